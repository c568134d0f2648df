package chunkstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// Class groups blobs that tend to live and die together into the same
// packs: tar headers change with every mtime, file bodies rarely.
type Class int

// Blob classes.
const (
	ClassMeta Class = iota
	ClassData
	numClasses
)

// sealers is how many packs may be encrypted and written at once.
const sealers = 2

// Writer adds blobs to a store, deduplicating against the index and
// against blobs added earlier through the same Writer. Add is not safe for
// concurrent use. Full packs are encrypted by up to [sealers] goroutines
// and then made durable and indexed by one more, so encryption overlaps
// with fsync. Flush must be called once at the end.
type Writer struct {
	s     *Store
	index *Index
	open  [numClasses]*packBuf
	// pending holds blobs added but not yet in the index.
	pending map[ID]struct{}

	sem       chan struct{}
	wg        sync.WaitGroup
	synced    chan *sealedPack
	committed chan struct{}
	mu        sync.Mutex
	err       error
	stat      WriteStats
}

// WriteStats counts what a Writer stored.
type WriteStats struct {
	Packs     int
	Blobs     int
	BlobBytes int64 // compressed bytes of new blobs
	Stored    int64 // bytes of the packs written
}

type packBuf struct {
	data    []byte
	entries []BlobEntry
}

// NewWriter returns a Writer for the store. The caller must hold the
// exclusive lock.
func (s *Store) NewWriter() (*Writer, error) {
	ix, err := s.Index()
	if err != nil {
		return nil, err
	}
	w := &Writer{
		s: s, index: ix, pending: map[ID]struct{}{}, sem: make(chan struct{}, sealers),
		synced: make(chan *sealedPack, 8), committed: make(chan struct{}),
	}
	go w.commitLoop()
	return w, nil
}

// Has reports whether the blob is stored or pending.
func (w *Writer) Has(id ID) bool {
	if _, ok := w.pending[id]; ok {
		return true
	}
	return w.index.Has(id)
}

// Add stores a blob given its ID, its zstd frame and its plaintext length,
// unless it is stored already. It reports whether the blob was new.
func (w *Writer) Add(ctx context.Context, class Class, id ID, frame []byte, rawLen int) (bool, error) {
	if err := w.firstErr(); err != nil {
		return false, err
	}
	if w.Has(id) {
		return false, nil
	}
	if len(frame) > maxBlobSize || rawLen > maxBlobSize {
		return false, fmt.Errorf("blob %s too large (%d bytes)", id.Short(), rawLen)
	}
	p := w.open[class]
	if p == nil {
		p = &packBuf{data: make([]byte, 0, min(w.s.cfg.PackSize, 1<<20))}
		w.open[class] = p
	}
	p.entries = append(p.entries, BlobEntry{ID: id, Offset: uint32(len(p.data)), Length: uint32(len(frame)), RawLength: uint32(rawLen)})
	p.data = append(p.data, frame...)
	w.pending[id] = struct{}{}
	w.mu.Lock()
	w.stat.Blobs++
	w.stat.BlobBytes += int64(len(frame))
	w.mu.Unlock()
	if len(p.data) >= w.s.cfg.PackSize {
		w.open[class] = nil
		return true, w.seal(ctx, p)
	}
	return true, nil
}

// Flush seals the open packs and waits until every pack is stored and
// indexed. After Flush returns nil, every blob added is durable. A Writer
// cannot be used after Flush.
func (w *Writer) Flush(ctx context.Context) error {
	var err error
	for c, p := range w.open {
		if p != nil && err == nil {
			w.open[c] = nil
			err = w.seal(ctx, p)
		}
	}
	w.wg.Wait()
	close(w.synced)
	<-w.committed
	if err != nil {
		return err
	}
	return w.firstErr()
}

// Stats returns what the writer stored so far.
func (w *Writer) Stats() WriteStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stat
}

func (w *Writer) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Writer) seal(ctx context.Context, p *packBuf) error {
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.wg.Add(1)
	go func() {
		defer func() { <-w.sem; w.wg.Done() }()
		sp, err := w.s.sealPack(p)
		if err != nil {
			w.fail(err)
			return
		}
		w.synced <- sp
	}()
	return nil
}

// commitLoop makes sealed packs durable and indexes them, one at a time,
// so that encryption of the next packs overlaps with fsync.
func (w *Writer) commitLoop() {
	defer close(w.committed)
	for sp := range w.synced {
		if w.firstErr() != nil {
			sp.discard()
			continue
		}
		info, err := w.s.commitPack(sp)
		if err != nil {
			w.fail(err)
			continue
		}
		w.mu.Lock()
		w.stat.Packs++
		w.stat.Stored += info.Size
		w.mu.Unlock()
	}
}

func (w *Writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// sealedPack is a pack encrypted into a temporary file, not yet durable.
type sealedPack struct {
	f    *os.File
	info PackInfo
}

func (sp *sealedPack) discard() {
	sp.f.Close()
	os.Remove(sp.f.Name())
}

// sealPack encrypts a pack into a temporary file, computing the SHA-256
// of the stored bytes, its name.
func (s *Store) sealPack(p *packBuf) (*sealedPack, error) {
	p.data = appendTrailer(p.data, p.entries)
	f, err := os.CreateTemp(filepath.Join(s.dir, dataDir), "pack"+tempMarker+"*")
	if err != nil {
		return nil, fmt.Errorf("failed to create pack: %w", err)
	}
	sp := &sealedPack{f: f, info: PackInfo{Blobs: p.entries}}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	sw, err := s.codec.Seal(cw)
	if err == nil {
		_, err = sw.Write(p.data)
	}
	if err == nil {
		err = sw.Close()
	}
	if err != nil {
		sp.discard()
		return nil, fmt.Errorf("failed to write pack: %w", err)
	}
	sp.info.Size = cw.n
	h.Sum(sp.info.ID[:0])
	return sp, nil
}

// commitPack syncs a sealed pack, renames it to its name, syncs the
// directory, and only then records it in the index: the index never names
// a blob that a crash could lose.
func (s *Store) commitPack(sp *sealedPack) (PackInfo, error) {
	info := sp.info
	if err := sp.f.Sync(); err != nil {
		sp.discard()
		return info, fmt.Errorf("failed to sync pack: %w", err)
	}
	if err := sp.f.Close(); err != nil {
		os.Remove(sp.f.Name())
		return info, fmt.Errorf("failed to close pack: %w", err)
	}
	final := s.packPath(info.ID)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		os.Remove(sp.f.Name())
		return info, fmt.Errorf("failed to create pack directory: %w", err)
	}
	if err := os.Rename(sp.f.Name(), final); err != nil {
		os.Remove(sp.f.Name())
		return info, fmt.Errorf("failed to store pack %s: %w", info.ID, err)
	}
	if err := fsync.Dir(filepath.Dir(final)); err != nil {
		return info, err
	}
	if err := s.log.append(info); err != nil {
		return info, err
	}
	s.index.add(info)
	return info, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
