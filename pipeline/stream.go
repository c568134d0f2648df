package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

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
	// ReadFrame returns the blob's stored frame, in frame's storage when
	// it is large enough, and its plaintext appended to dst.
	ReadFrame(id chunkstore.ID, frame, dst []byte) (stored, plain []byte, err error)
}

var _ BlobReader = (*chunkstore.Store)(nil)

// StreamReader reads a snapshot's tar stream back from the store, or, from
// [NewFrameReader], the blobs' stored zstd frames (a .tar.zst of the
// stream), or, from [NewEntryReader], some of its entries. Every blob is
// authenticated (age) and its keyed ID recomputed as it is fetched; at
// the end of the whole stream its length is compared with the manifest
// (for some entries, each is checked against the file index instead).
// Read returns an error, never io.EOF, if any check fails, so a consumer
// that reads to EOF has seen exactly what it asked for.
//
// A pool of workers fetches, decodes and verifies blobs on up to
// maxWorkers cores; Read takes them in stream order. A fixed set of
// fetches, each keeping its buffers, circulates between them, so memory
// is bounded (whatever the number of cores) and a restore does not
// allocate per blob.
type StreamReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	name   string
	check  checker
	queue  chan *fetch // in stream order; closed after the last
	free   chan *fetch
	cur    *fetch
	rest   []byte // of cur, not read yet
	err    error  // sticky
	wg     sync.WaitGroup
	frames bool

	// Counted by Read.
	blobs, n atomic.Int64
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

// A fetch is a run of consecutive blobs on their way through a
// StreamReader: one blob, or several small ones, so that a tree of small
// files does not cost a hand-off between goroutines per blob.
type fetch struct {
	ids       []chunkstore.ID
	data      []byte // plaintext, kept from one fetch to the next
	ends      []int  // where each blob's plaintext ends in data
	frames    []byte // for a frame reader, the blobs' stored frames
	frameEnds []int  // where each blob's frame ends in frames
	next      int    // blobs Read has taken from it
	err       error
	done      chan struct{} // receives once a worker has read the blobs
}

// Blobs are batched into one fetch up to batchBlobs of them or
// batchBytes of plaintext, whichever comes first; a larger blob is a
// fetch of its own. Memory stays bounded by the fetches in flight (the
// workers', one ready and the one being read) times the larger of
// batchBytes and the largest blob, plus, reading plaintext, a frame
// buffer per worker: a frame is needed only while its worker decodes it
// (a frame reader keeps the frames in its fetches, which yield them).
// Issue 20 (peak RSS): with fetches and frames proportional to the
// cores, an 8-core phone would hold 17 fetches of up to two 4 MiB blobs
// each; maxWorkers bounds them.
const (
	batchBlobs = 64
	batchBytes = 256 << 10
	maxWorkers = 4
)

// rawSizer is what a BlobReader offers, when it can, to batch small
// blobs: the index, which knows each blob's plaintext length.
type rawSizer interface {
	Index() (*chunkstore.Index, error)
}

// rawLen returns the plaintext length of id as the index of s records it,
// or batchBytes (a fetch of its own) when it cannot tell.
func rawLen(ix *chunkstore.Index, id chunkstore.ID) int {
	if ix != nil {
		if loc, ok := ix.Lookup(id); ok {
			return int(loc.RawLength)
		}
	}
	return batchBytes
}

// NewStreamReader starts fetching the blobs of m (whose details must be
// open) with a bounded number of blobs in flight. Close stops it. It does
// not hash the stream: the authenticated manifest lists the keyed blob
// IDs in stream order and each blob is checked against its ID, which
// fixes every byte (see doc/format.md, "What authenticates what").
func NewStreamReader(ctx context.Context, s BlobReader, m *manifest.Manifest) *StreamReader {
	return newReader(ctx, s, m.Name, m.StreamLen(), m.StreamID, false, newWholeStream(m))
}

// NewFrameReader is NewStreamReader yielding the stored zstd frames instead
// of their plaintext, verified the same way: each blob against its keyed
// ID, the whole against the manifest's length. It does not hash the
// stream either, for the same reason.
func NewFrameReader(ctx context.Context, s BlobReader, m *manifest.Manifest) *StreamReader {
	return newReader(ctx, s, m.Name, m.StreamLen(), m.StreamID, true, newWholeStream(m))
}

// newReader reads blobs id(0) to id(n-1): the manifest's stream is not
// copied (Issue 20: peak RSS).
func newReader(ctx context.Context, s BlobReader, name string, n int, id func(int) chunkstore.ID, frames bool, c checker) *StreamReader {
	ctx, cancel := context.WithCancel(ctx)
	workers := min(runtime.GOMAXPROCS(0), maxWorkers)
	// A fetch for every worker, one ready and the one being read.
	inFlight := workers + 2
	r := &StreamReader{
		ctx: ctx, cancel: cancel, name: name, check: c, frames: frames,
		queue: make(chan *fetch, inFlight), free: make(chan *fetch, inFlight),
	}
	for range inFlight {
		r.free <- &fetch{done: make(chan struct{}, 1)}
	}
	var ix *chunkstore.Index
	if sz, ok := s.(rawSizer); ok {
		ix, _ = sz.Index() // on failure, no batching; ReadFrame says why
	}
	work := make(chan *fetch, inFlight)
	for range workers {
		r.wg.Go(func() {
			var frame []byte // this worker's, for plaintext
			for f := range work {
				f.read(ctx, s, frames, &frame)
				f.done <- struct{}{}
			}
		})
	}
	r.wg.Go(func() {
		defer close(r.queue)
		defer close(work)
		for next := 0; next < n; {
			var f *fetch
			select {
			case f = <-r.free:
			case <-ctx.Done():
				return
			}
			f.ids = append(f.ids[:0], id(next))
			if ix != nil {
				size := rawLen(ix, f.ids[0])
				for next+len(f.ids) < n && len(f.ids) < batchBlobs {
					b := id(next + len(f.ids))
					if size += rawLen(ix, b); size > batchBytes {
						break
					}
					f.ids = append(f.ids, b)
				}
			}
			next += len(f.ids)
			// Neither blocks: each holds at most every fetch.
			r.queue <- f
			work <- f
		}
	})
	return r
}

// read reads and verifies the blobs of f, appending their plaintext to
// f.data and, with frames set, their stored frames to f.frames (else
// reading each frame into *frame), and stops at the first failure.
func (f *fetch) read(ctx context.Context, s BlobReader, frames bool, frame *[]byte) {
	f.data, f.ends, f.next, f.err = f.data[:0], f.ends[:0], 0, nil
	f.frames, f.frameEnds = f.frames[:0], f.frameEnds[:0]
	for _, id := range f.ids {
		if f.err = ctx.Err(); f.err != nil { // skip what Close abandoned
			return
		}
		var data []byte
		if !frames {
			*frame, data, f.err = s.ReadFrame(id, *frame, f.data)
		} else {
			// Read the frame in place after the others, when it fits.
			var stored []byte
			stored, data, f.err = s.ReadFrame(id, f.frames[len(f.frames):], f.data)
			if f.err == nil {
				f.frames = appendInPlace(f.frames, stored)
				f.frameEnds = append(f.frameEnds, len(f.frames))
			}
		}
		if f.err != nil {
			return
		}
		f.data = data
		f.ends = append(f.ends, len(f.data))
	}
}

// appendInPlace appends b to buf, where b may already be, read into
// buf's spare capacity.
func appendInPlace(buf, b []byte) []byte {
	n := len(buf)
	if len(b) > 0 && cap(buf) > n && &buf[:n+1][n] == &b[0] {
		return buf[:n+len(b)]
	}
	return append(buf, b...)
}

// blobPart returns blob i's part of buf, whose parts end at ends.
func blobPart(buf []byte, ends []int, i int) []byte {
	start := 0
	if i > 0 {
		start = ends[i-1]
	}
	return buf[start:ends[i]]
}

// Read implements io.Reader.
// It fills p with as many blobs as the current fetch holds, so that a
// run of small blobs reaches the consumer in one call; it never waits
// for the next fetch with bytes in hand.
func (r *StreamReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.rest) > 0 {
			k := copy(p[n:], r.rest)
			r.rest = r.rest[k:]
			n += k
			continue
		}
		if n > 0 && (r.err != nil || r.cur == nil || r.cur.next == len(r.cur.ends)) {
			break
		}
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.next()
	}
	return n, nil
}

// next takes the next blob in stream order and checks it: from the
// current fetch, or else from the next one, once its worker is done and
// the current one recycled. After the last, it checks the whole.
func (r *StreamReader) next() error {
	f := r.cur
	if f == nil || f.next == len(f.ends) {
		if err := r.nextFetch(); err != nil {
			return err
		}
		f = r.cur
	}
	plain := blobPart(f.data, f.ends, f.next)
	out, err := r.check.blob(plain)
	if err != nil {
		r.cancel()
		return fmt.Errorf("snapshot %s: %w", r.name, err)
	}
	r.blobs.Add(1)
	r.n.Add(int64(len(plain)))
	if r.frames {
		out = blobPart(f.frames, f.frameEnds, f.next)
	}
	f.next++
	r.rest = out
	return nil
}

// nextFetch recycles the current fetch and makes the next one in stream
// order current once its worker is done with it; after the last, it
// checks the whole.
func (r *StreamReader) nextFetch() error {
	if r.cur != nil {
		r.free <- r.cur // never blocks: free holds every fetch
		r.cur = nil
	}
	f, ok := <-r.queue
	if !ok {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if err := r.check.end(r.n.Load()); err != nil {
			return fmt.Errorf("snapshot %s: %w", r.name, err)
		}
		return io.EOF
	}
	r.cur = f
	select {
	case <-f.done:
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	if f.err != nil {
		r.cancel()
		return fmt.Errorf("snapshot %s: %w", r.name, f.err)
	}
	return nil
}

// Fetched returns how many blobs the reader has read and verified, and
// their plaintext bytes: once Read has returned io.EOF, every blob it was
// asked for.
func (r *StreamReader) Fetched() (blobs int, bytes int64) {
	return int(r.blobs.Load()), r.n.Load()
}

// Close stops fetching and waits until no blob is being read, so the store
// may be closed after it.
func (r *StreamReader) Close() error {
	r.cancel()
	r.wg.Wait()
	return nil
}

// wholeStream checks a snapshot's whole stream: its length.
type wholeStream struct{ m *manifest.Manifest }

func newWholeStream(m *manifest.Manifest) wholeStream { return wholeStream{m} }

func (w wholeStream) blob(plain []byte) ([]byte, error) { return plain, nil }

func (w wholeStream) end(n int64) error {
	if n != w.m.StreamSize {
		return fmt.Errorf("%w: stream is %d bytes, manifest says %d", ErrVerify, n, w.m.StreamSize)
	}
	return nil
}
