package chunkstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// Class groups blobs that tend to live and die together into the same
// packs: tar headers change with every mtime, small files' bodies rarely,
// and a large file's chunks go and come together, so packs of them alone
// can be deleted whole when the file is gone.
type Class int

// Blob classes.
const (
	// ClassMeta holds tar headers and the end-of-archive marker.
	ClassMeta Class = iota
	// ClassBody holds the bodies stored as a single blob.
	ClassBody
	// ClassChunk holds the content-defined chunks of large bodies.
	ClassChunk
	numClasses
)

// Writer adds blobs to a store, deduplicating against the index and
// against blobs added earlier through the same Writer. Add is not safe for
// concurrent use. Each class has one open pack: frames are encrypted
// straight into its temporary file as they are added, so a Writer holds no
// pack in memory; full packs are made durable and indexed by a committer
// goroutine, so fsync overlaps with the next packs. Flush must be called
// once at the end.
type Writer struct {
	s     *Store
	index *Index
	// adopted holds the blobs of packs that are only in the bucket.
	adopted *Index
	open    [numClasses]*openPack
	// pending holds the blobs added whose pack is not indexed yet: the
	// committer removes them once it is, so that a Writer holds only the
	// blobs of the packs in flight. Guarded by mu.
	pending map[ID]struct{}

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

// NewWriter returns a Writer for the store. The caller must hold the
// exclusive lock.
func (s *Store) NewWriter() (*Writer, error) {
	if s.ReadOnly() {
		return nil, ErrReadOnly
	}
	ix, err := s.writableIndex()
	if err != nil {
		return nil, err
	}
	_, adopted, err := s.loadRemote()
	if err != nil {
		return nil, err
	}
	w := s.newWriter(ix)
	w.adopted = adopted
	return w, nil
}

// newWriter returns a Writer that deduplicates against ix.
func (s *Store) newWriter(ix *Index) *Writer {
	w := &Writer{
		s: s, index: ix, pending: map[ID]struct{}{},
		synced: make(chan *sealedPack, 8), committed: make(chan struct{}),
	}
	go w.commitLoop()
	return w
}

// Has reports whether the blob is stored or pending.
func (w *Writer) Has(id ID) bool {
	w.mu.Lock()
	_, ok := w.pending[id]
	w.mu.Unlock()
	// A pack is indexed before its blobs leave pending.
	return ok || w.index.Has(id) || w.adopted != nil && w.adopted.Has(id)
}

// Add stores a blob given its ID, its zstd frame and its plaintext length,
// unless it is stored already. It reports whether the blob was new.
func (w *Writer) Add(ctx context.Context, class Class, id ID, frame []byte, rawLen int) (bool, error) {
	if err := w.firstErr(); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if w.Has(id) {
		return false, nil
	}
	if len(frame) > maxBlobSize || rawLen > maxBlobSize {
		return false, fmt.Errorf("blob %s too large (%d bytes)", id.Short(), rawLen)
	}
	p := w.open[class]
	if p != nil && p.size+len(frame) > w.s.cfg.PackSize {
		w.open[class] = nil
		if err := w.seal(p); err != nil {
			return false, err
		}
		p = nil
	}
	if p == nil {
		var err error
		if p, err = w.s.newPack(); err != nil {
			return false, err
		}
		w.open[class] = p
	}
	if err := p.add(id, frame, rawLen); err != nil {
		w.open[class] = nil
		p.discard()
		return false, err
	}
	w.mu.Lock()
	w.pending[id] = struct{}{}
	w.stat.Blobs++
	w.stat.BlobBytes += int64(len(frame))
	w.mu.Unlock()
	return true, nil
}

// Flush seals the open packs and waits until every pack is stored and
// indexed. After Flush returns nil, every blob added is durable. A Writer
// cannot be used after Flush.
func (w *Writer) Flush(ctx context.Context) error {
	var err error
	for c, p := range w.open {
		if p == nil {
			continue
		}
		w.open[c] = nil
		if err == nil {
			err = w.seal(p)
		} else {
			p.discard()
		}
	}
	close(w.synced)
	<-w.committed
	return errors.Join(err, w.firstErr())
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

// seal finishes an open pack and hands it to the committer.
func (w *Writer) seal(p *openPack) error {
	sp, err := p.finish()
	if err != nil {
		return err
	}
	w.synced <- sp
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
		if w.index != w.s.index {
			w.index.add(info) // a repack's own index
		}
		w.mu.Lock()
		for _, b := range info.Blobs {
			delete(w.pending, b.ID)
		}
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

// openPack is a pack being written: its frames are encrypted into a
// temporary file as they come, while the SHA-256 of the stored bytes, its
// future name, is computed.
type openPack struct {
	sealedPack
	h       hash.Hash
	cw      *countWriter
	sw      io.WriteCloser
	size    int // plaintext bytes so far
	entries []BlobEntry

	padding   Padding
	encrypted bool
	header    int64 // stored bytes before the plaintext (age's header)
	// table seals the blob table after the payload (version 2).
	table *packTableKeys
}

func (s *Store) newPack() (*openPack, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, dataDir), "pack"+tempMarker+"*")
	if err != nil {
		return nil, fmt.Errorf("failed to create pack: %w", err)
	}
	p := &openPack{sealedPack: sealedPack{f: f}, h: sha256.New(), padding: s.padding, encrypted: s.codec.Encrypted()}
	if s.cfg.Version >= 2 {
		if p.table, err = s.packTableKeys(); err != nil {
			p.discard()
			return nil, err
		}
	}
	p.cw = &countWriter{w: io.MultiWriter(f, p.h)}
	if p.sw, err = s.codec.Seal(p.cw); err != nil {
		p.discard()
		return nil, fmt.Errorf("failed to encrypt pack: %w", err)
	}
	p.header = p.cw.n
	return p, nil
}

func (p *openPack) add(id ID, frame []byte, rawLen int) error {
	if _, err := p.sw.Write(frame); err != nil {
		return fmt.Errorf("failed to write pack %s: %w", p.f.Name(), err)
	}
	p.entries = append(p.entries, BlobEntry{ID: id, Offset: uint32(p.size), Length: uint32(len(frame)), RawLength: uint32(rawLen)})
	p.size += len(frame)
	return nil
}

// finish writes the padding, if any, and the trailer, ends the
// encryption and, in version 2, appends the sealed blob table.
func (p *openPack) finish() (*sealedPack, error) {
	trailer := appendTrailer(nil, p.entries)
	var tail int64
	if p.table != nil {
		tail = tableOverhead(len(trailer))
	}
	var err error
	if p.padding == PaddingPadme {
		err = writePadding(p.sw, paddingFor(p.encrypted, p.header, tail, int64(p.size+len(trailer))))
	}
	if err == nil {
		_, err = p.sw.Write(trailer)
	}
	if err == nil {
		err = p.sw.Close()
	}
	if err == nil && p.table != nil {
		var sealed []byte
		if sealed, err = p.table.seal(trailer); err == nil {
			_, err = p.cw.Write(sealed)
		}
	}
	if err == nil && p.padding == PaddingPadme && Padme(p.cw.n) != p.cw.n {
		err = fmt.Errorf("padding miscomputed: %d stored bytes is not a Padmé length", p.cw.n)
	}
	if err != nil {
		p.discard()
		return nil, fmt.Errorf("failed to write pack: %w", err)
	}
	// The index keeps the entries for good: without append's spare room.
	p.info = PackInfo{Size: p.cw.n, Blobs: slices.Clone(p.entries)}
	p.h.Sum(p.info.ID[:0])
	return &p.sealedPack, nil
}

// writePadding writes a padding frame of n bytes in all; nothing for 0.
func writePadding(w io.Writer, n int64) error {
	if n == 0 {
		return nil
	}
	if _, err := w.Write(appendPaddingHeader(nil, n)); err != nil {
		return err
	}
	var zeros [16 << 10]byte
	for n -= paddingHeader; n > 0; n -= int64(len(zeros)) {
		if _, err := w.Write(zeros[:min(n, int64(len(zeros)))]); err != nil {
			return err
		}
	}
	return nil
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
