package chunkstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
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
// concurrent use; sealing and writing packs runs in the background.
type Writer struct {
	s     *Store
	index *Index
	open  [numClasses]*packBuf
	// pending holds blobs added but not yet in the index.
	pending map[ID]struct{}

	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	stat WriteStats
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
	return &Writer{s: s, index: ix, pending: map[ID]struct{}{}, sem: make(chan struct{}, sealers)}, nil
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
		p = &packBuf{data: make([]byte, 0, w.s.cfg.PackSize+w.s.cfg.PackSize/4)}
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
// indexed. After Flush returns nil, every blob added is durable.
func (w *Writer) Flush(ctx context.Context) error {
	for c, p := range w.open {
		if p != nil {
			w.open[c] = nil
			if err := w.seal(ctx, p); err != nil {
				break
			}
		}
	}
	w.wg.Wait()
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
		info, err := w.s.writePack(p)
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if w.err == nil {
				w.err = err
			}
			return
		}
		w.stat.Packs++
		w.stat.Stored += info.Size
	}()
	return nil
}

// writePack encrypts a pack, stores it under the SHA-256 of its stored
// bytes and then records it in the index.
func (s *Store) writePack(p *packBuf) (PackInfo, error) {
	p.data = appendTrailer(p.data, p.entries)
	dir := filepath.Join(s.dir, dataDir)
	f, err := os.CreateTemp(dir, "pack"+tempMarker+"*")
	if err != nil {
		return PackInfo{}, fmt.Errorf("failed to create pack: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if tmp != "" {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	sw, err := s.codec.Seal(cw)
	if err != nil {
		return PackInfo{}, fmt.Errorf("failed to encrypt pack: %w", err)
	}
	if _, err := sw.Write(p.data); err != nil {
		return PackInfo{}, fmt.Errorf("failed to write pack: %w", err)
	}
	if err := sw.Close(); err != nil {
		return PackInfo{}, fmt.Errorf("failed to write pack: %w", err)
	}
	if err := f.Sync(); err != nil {
		return PackInfo{}, fmt.Errorf("failed to sync pack: %w", err)
	}
	if err := f.Close(); err != nil {
		return PackInfo{}, fmt.Errorf("failed to close pack: %w", err)
	}
	info := PackInfo{Size: cw.n, Blobs: p.entries}
	h.Sum(info.ID[:0])
	final := s.packPath(info.ID)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return PackInfo{}, fmt.Errorf("failed to create pack directory: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return PackInfo{}, fmt.Errorf("failed to store pack %s: %w", info.ID, err)
	}
	tmp = ""
	if err := syncDir(filepath.Dir(final)); err != nil {
		return PackInfo{}, err
	}
	// Only now, with the pack durable, may the index name its blobs.
	if err := s.log.append(info); err != nil {
		return PackInfo{}, err
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
