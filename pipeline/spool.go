package pipeline

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// idSpool keeps the stream's blob IDs, 32 bytes a piece, in a temporary
// file of the repository while a backup runs, so that memory does not grow
// with the stream; the manifest needs them only at the end. The body pieces
// of the entry being taken stay at hand for the files cache.
type idSpool struct {
	f *os.File
	w *bufio.Writer
	n int
	// body holds the IDs of the body pieces since the last header.
	body []chunkstore.ID
}

func newIDSpool(s *chunkstore.Store) (*idSpool, error) {
	f, err := s.CreateTemp("stream")
	if err != nil {
		return nil, fmt.Errorf("failed to create the stream's blob list: %w", err)
	}
	return &idSpool{f: f, w: bufio.NewWriter(f)}, nil
}

// add appends the ID of the next piece, of the given class.
func (sp *idSpool) add(id chunkstore.ID, class chunkstore.Class) error {
	if class == chunkstore.ClassMeta {
		sp.body = sp.body[:0]
	} else {
		sp.body = append(sp.body, id)
	}
	sp.n++
	if _, err := sp.w.Write(id[:]); err != nil {
		return fmt.Errorf("failed to write %s: %w", sp.f.Name(), err)
	}
	return nil
}

// lastBody returns the IDs of the last n body pieces added, which follow
// the last header.
func (sp *idSpool) lastBody(n int) []chunkstore.ID { return sp.body[len(sp.body)-n:] }

// all returns every ID added, in stream order.
func (sp *idSpool) all() ([]chunkstore.ID, error) {
	if err := sp.w.Flush(); err != nil {
		return nil, fmt.Errorf("failed to write %s: %w", sp.f.Name(), err)
	}
	ids := make([]chunkstore.ID, sp.n)
	r := bufio.NewReader(io.NewSectionReader(sp.f, 0, int64(sp.n)*chunkstore.IDSize))
	for i := range ids {
		if _, err := io.ReadFull(r, ids[i][:]); err != nil {
			return nil, fmt.Errorf("failed to read %s back: %w", sp.f.Name(), err)
		}
	}
	return ids, nil
}

// remove deletes the spool.
func (sp *idSpool) remove() {
	sp.f.Close()
	os.Remove(sp.f.Name())
}
