package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// ErrVerify is wrapped by every failure to verify a snapshot's stream as
// a whole (its length or digest) or, when reading some entries only, an
// entry against the file index.
var ErrVerify = errors.New("verification failed")

// BlobReader reads a blob back, authenticated and checked against its
// keyed ID. [*chunkstore.Store] is the one that matters; tests wrap it.
type BlobReader interface {
	ReadFrame(id chunkstore.ID, dst []byte) (frame, plain []byte, err error)
}

var _ BlobReader = (*chunkstore.Store)(nil)

// StreamReader reads a snapshot's tar stream back from the store, or, from
// [NewFrameReader], the blobs' stored zstd frames (a .tar.zst of the
// stream), or, from [NewEntryReader], some of its entries. Every blob is
// authenticated (age) and its keyed ID recomputed as it is fetched; at
// the end of the whole stream its length and, when the manifest records
// one, its SHA-256 are compared with the manifest (for some entries, each
// is checked against the file index instead). Read returns an error,
// never io.EOF, if any check fails, so a consumer that reads to EOF has
// seen exactly what it asked for.
type StreamReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	name   string
	check  checker
	blobs  int
	n      int64
	cur    []byte
	queue  chan *fetch
	err    error
	wg     sync.WaitGroup
	frames bool
}

// checker checks what a StreamReader reads: each blob's plaintext, in
// order, then the whole.
type checker interface {
	// blob checks the next blob's plaintext and returns the bytes to yield
	// in its place.
	blob(plain []byte) ([]byte, error)
	// end runs once every blob has been read, n bytes in all.
	end(n int64) error
}

type fetch struct {
	id          chunkstore.ID
	frame, data []byte
	err         error
	done        chan struct{}
}

// NewStreamReader starts fetching the blobs of m (whose details must be
// open) with a bounded number of blobs in flight. Close stops it.
func NewStreamReader(ctx context.Context, s BlobReader, m *manifest.Manifest) *StreamReader {
	return newReader(ctx, s, m.Name, m.StreamIDs(), false, newWholeStream(m))
}

// NewFrameReader is NewStreamReader yielding the stored zstd frames instead
// of their plaintext, verified the same way.
func NewFrameReader(ctx context.Context, s BlobReader, m *manifest.Manifest) *StreamReader {
	return newReader(ctx, s, m.Name, m.StreamIDs(), true, newWholeStream(m))
}

func newReader(ctx context.Context, s BlobReader, name string, ids []chunkstore.ID, frames bool, c checker) *StreamReader {
	ctx, cancel := context.WithCancel(ctx)
	workers := runtime.GOMAXPROCS(0)
	r := &StreamReader{
		ctx: ctx, cancel: cancel, name: name, check: c,
		queue: make(chan *fetch, 2*workers), frames: frames,
	}
	work := make(chan *fetch)
	for range workers {
		r.wg.Go(func() {
			for f := range work {
				f.frame, f.data, f.err = s.ReadFrame(f.id, nil)
				close(f.done)
			}
		})
	}
	go func() {
		defer close(r.queue)
		defer close(work)
		for _, id := range ids {
			f := &fetch{id: id, done: make(chan struct{})}
			select {
			case r.queue <- f:
			case <-ctx.Done():
				return
			}
			select {
			case work <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	return r
}

// Read implements io.Reader.
func (r *StreamReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.next()
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *StreamReader) next() error {
	f, ok := <-r.queue
	if !ok {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if err := r.check.end(r.n); err != nil {
			return fmt.Errorf("snapshot %s: %w", r.name, err)
		}
		return io.EOF
	}
	select {
	case <-f.done:
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	if f.err != nil {
		return fmt.Errorf("snapshot %s: %w", r.name, f.err)
	}
	out, err := r.check.blob(f.data)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", r.name, err)
	}
	r.blobs++
	r.n += int64(len(f.data))
	r.cur = out
	if r.frames {
		r.cur = f.frame
	}
	return nil
}

// Fetched returns how many blobs the reader has read and verified, and
// their plaintext bytes: once Read has returned io.EOF, every blob it was
// asked for.
func (r *StreamReader) Fetched() (blobs int, bytes int64) { return r.blobs, r.n }

// Close stops fetching and waits until no blob is being read, so the store
// may be closed after it.
func (r *StreamReader) Close() error {
	r.cancel()
	for range r.queue {
	}
	r.wg.Wait()
	return nil
}

// wholeStream checks a snapshot's whole stream: its length and, when the
// manifest records it, its SHA-256.
type wholeStream struct {
	m    *manifest.Manifest
	want string
	h    hash.Hash
}

func newWholeStream(m *manifest.Manifest) *wholeStream {
	return &wholeStream{m: m, want: m.Details().StreamSHA256, h: sha256.New()}
}

func (w *wholeStream) blob(plain []byte) ([]byte, error) {
	w.h.Write(plain)
	return plain, nil
}

func (w *wholeStream) end(n int64) error {
	if n != w.m.StreamSize {
		return fmt.Errorf("%w: stream is %d bytes, manifest says %d", ErrVerify, n, w.m.StreamSize)
	}
	if w.want != "" {
		if got := hex.EncodeToString(w.h.Sum(nil)); got != w.want {
			return fmt.Errorf("%w: stream SHA-256 %s, manifest says %s", ErrVerify, got, w.want)
		}
	}
	return nil
}
