package migrate

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// Sums are the SHA-256 of each snapshot's plaintext stream, by name.
type Sums map[string][sha256.Size]byte

// Copy copies every snapshot of from into to, oldest first, and returns
// the SHA-256 of each one's stream as read from from. from needs its
// identity when it is encrypted; to must be a repository of its own (not
// a clone of from) that the caller holds exclusively. progress, when not
// nil, is told of each snapshot once it is saved. A snapshot already in
// to is an error.
func Copy(ctx context.Context, from, to *chunkstore.Store, progress func(name string)) (Sums, error) {
	names, err := manifest.Names(from)
	if err != nil {
		return nil, err
	}
	sums := Sums{}
	for _, name := range names {
		sum, err := copySnapshot(ctx, from, to, name)
		if err != nil {
			return sums, fmt.Errorf("failed to copy snapshot %s: %w", name, err)
		}
		sums[name] = sum
		if progress != nil {
			progress(name)
		}
	}
	return sums, nil
}

func copySnapshot(ctx context.Context, from, to *chunkstore.Store, name string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	m, err := manifest.Load(from, name)
	if err != nil {
		return sum, err
	}
	d, err := m.Open(from.Codec())
	if err != nil {
		return sum, err
	}
	keys, err := to.Keys()
	if err != nil {
		return sum, err
	}
	w, err := to.NewWriter()
	if err != nil {
		return sum, err
	}
	classes, err := pieceClasses(m)
	if err != nil {
		return sum, err
	}
	newID := make(map[chunkstore.ID]chunkstore.ID, len(m.Blobs))
	stream := make([]chunkstore.ID, len(d.Stream))
	h := sha256.New()
	var frame, plain []byte
	for i, id := range m.StreamIDs() {
		if err := ctx.Err(); err != nil {
			w.Flush(ctx)
			return sum, err
		}
		frame, plain, err = from.ReadFrame(id, frame, plain[:0])
		if err != nil {
			w.Flush(ctx)
			return sum, err
		}
		h.Write(plain)
		nid, ok := newID[id]
		if !ok {
			nid = keys.BlobID(plain)
			newID[id] = nid
			if _, err := w.Add(ctx, classes[i], nid, frame, len(plain)); err != nil {
				w.Flush(ctx)
				return sum, err
			}
		}
		stream[i] = nid
	}
	if err := w.Flush(ctx); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	n := *m
	nd := *d
	n.Blobs, nd.Stream = manifest.Index(stream)
	n.SetDetails(&nd)
	return sum, manifest.Save(to, &n)
}

// pieceClasses gives each stream position the class its blob was written
// in, as near as the file index tells: a file's body is chunks, the rest
// (tar headers, the end of the archive) metadata. Classes only group
// blobs into packs; a wrong guess costs locality, never data.
func pieceClasses(m *manifest.Manifest) ([]chunkstore.Class, error) {
	n := m.StreamLen()
	classes := make([]chunkstore.Class, n)
	err := m.EachFile(func(_ int, f *manifest.File) error {
		for i := f.Piece; i < f.Piece+f.Pieces && i < n; i++ {
			classes[i] = chunkstore.ClassChunk
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
	}
	return classes, nil
}

// Verify reads every snapshot in sums back from to (which needs its
// identity) and checks that its stream's SHA-256 is the one Copy read
// from the old repository. It fails on the first that differs or cannot
// be read, naming it.
func Verify(ctx context.Context, to *chunkstore.Store, sums Sums) error {
	names, err := manifest.Names(to)
	if err != nil {
		return err
	}
	if len(names) != len(sums) {
		return fmt.Errorf("%s holds %d snapshots, %d were copied", to.Dir(), len(names), len(sums))
	}
	var plain []byte
	for _, name := range names {
		want, ok := sums[name]
		if !ok {
			return fmt.Errorf("%s holds snapshot %s, which was not copied", to.Dir(), name)
		}
		m, err := manifest.Load(to, name)
		if err == nil {
			_, err = m.Open(to.Codec())
		}
		if err != nil {
			return fmt.Errorf("snapshot %s of %s: %w", name, to.Dir(), err)
		}
		h := sha256.New()
		for _, id := range m.StreamIDs() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if plain, err = to.ReadBlob(id, plain[:0]); err != nil {
				return fmt.Errorf("snapshot %s of %s: %w", name, to.Dir(), err)
			}
			h.Write(plain)
		}
		if [sha256.Size]byte(h.Sum(nil)) != want {
			return fmt.Errorf("snapshot %s of %s does not read back as it was copied", name, to.Dir())
		}
	}
	return nil
}
