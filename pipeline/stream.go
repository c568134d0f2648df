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
// a whole (its length or digest).
var ErrVerify = errors.New("verification failed")

// StreamReader reads a snapshot's tar stream back from the store, or, from
// [NewFrameReader], the blobs' stored zstd frames (a .tar.zst of the
// stream). Every blob is authenticated (age) and its keyed ID recomputed
// as it is fetched; at the end of the stream its length and, when the
// manifest records one, its SHA-256 are compared with the manifest. Read
// returns an error, never io.EOF, if any check fails, so a consumer that
// reads to EOF has seen exactly the snapshot.
type StreamReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	m      *manifest.Manifest
	want   string
	h      hash.Hash
	n      int64
	cur    []byte
	queue  chan *fetch
	err    error
	wg     sync.WaitGroup
	frames bool
}

type fetch struct {
	id          chunkstore.ID
	frame, data []byte
	err         error
	done        chan struct{}
}

// NewStreamReader starts fetching the blobs of m (whose details must be
// open) with a bounded number of blobs in flight. Close stops it.
func NewStreamReader(ctx context.Context, s *chunkstore.Store, m *manifest.Manifest) *StreamReader {
	return newReader(ctx, s, m, false)
}

// NewFrameReader is NewStreamReader yielding the stored zstd frames instead
// of their plaintext, verified the same way.
func NewFrameReader(ctx context.Context, s *chunkstore.Store, m *manifest.Manifest) *StreamReader {
	return newReader(ctx, s, m, true)
}

func newReader(ctx context.Context, s *chunkstore.Store, m *manifest.Manifest, frames bool) *StreamReader {
	ctx, cancel := context.WithCancel(ctx)
	workers := runtime.GOMAXPROCS(0)
	r := &StreamReader{
		ctx: ctx, cancel: cancel, m: m, want: m.Details().StreamSHA256, h: sha256.New(),
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
		for _, id := range m.StreamIDs() {
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
		return r.verify()
	}
	select {
	case <-f.done:
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	if f.err != nil {
		return fmt.Errorf("snapshot %s: %w", r.m.Name, f.err)
	}
	r.h.Write(f.data)
	r.n += int64(len(f.data))
	r.cur = f.data
	if r.frames {
		r.cur = f.frame
	}
	return nil
}

func (r *StreamReader) verify() error {
	if r.n != r.m.StreamSize {
		return fmt.Errorf("snapshot %s: %w: stream is %d bytes, manifest says %d", r.m.Name, ErrVerify, r.n, r.m.StreamSize)
	}
	if r.want != "" {
		if got := hex.EncodeToString(r.h.Sum(nil)); got != r.want {
			return fmt.Errorf("snapshot %s: %w: stream SHA-256 %s, manifest says %s", r.m.Name, ErrVerify, got, r.want)
		}
	}
	return io.EOF
}

// Close stops fetching and waits until no blob is being read, so the store
// may be closed after it.
func (r *StreamReader) Close() error {
	r.cancel()
	for range r.queue {
	}
	r.wg.Wait()
	return nil
}
