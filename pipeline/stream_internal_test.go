package pipeline

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// frameStore is a BlobReader whose blobs are n bytes of their ID's first
// byte; it records every frame buffer a read was given.
type frameStore struct {
	n      int
	mu     sync.Mutex
	frames map[unsafe.Pointer]bool
}

func (s *frameStore) ReadFrame(id chunkstore.ID, frame, dst []byte) ([]byte, []byte, error) {
	if cap(frame) < s.n {
		frame = make([]byte, s.n)
	}
	frame = frame[:s.n]
	for i := range frame {
		frame[i] = id[0]
	}
	s.mu.Lock()
	s.frames[unsafe.Pointer(unsafe.SliceData(frame))] = true
	s.mu.Unlock()
	return frame, append(dst, frame...), nil
}

type noCheck struct{}

func (noCheck) blob(p []byte) ([]byte, error) { return p, nil }
func (noCheck) end(int64) error               { return nil }

// Issue 20 (peak RSS): a StreamReader's buffers do not grow with the
// cores: on 16 of them it keeps maxWorkers+2 fetches, and reading
// plaintext it reads frames into one buffer per worker, never one per
// fetch; the stream still comes out whole and in order, as plaintext and
// as frames.
func TestStreamReaderBuffersBounded(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(16))
	ids := make([]chunkstore.ID, 200)
	var want bytes.Buffer
	for i := range ids {
		ids[i][0] = byte(i)
		want.Write(bytes.Repeat([]byte{byte(i)}, 1000))
	}
	for _, frames := range []bool{false, true} {
		s := &frameStore{n: 1000, frames: map[unsafe.Pointer]bool{}}
		r := newReader(context.Background(), s, "test", len(ids), func(i int) chunkstore.ID { return ids[i] }, frames, noCheck{})
		if got := cap(r.free); got != maxWorkers+2 {
			t.Errorf("frames=%v: %d fetches in flight, want %d", frames, got, maxWorkers+2)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("frames=%v: %v", frames, err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("frames=%v: the stream came out wrong (%d bytes, want %d)", frames, len(got), want.Len())
		}
		// A frame reader keeps the frames in its fetches, which yield them.
		if !frames && len(s.frames) > maxWorkers {
			t.Errorf("%d frame buffers, want at most %d", len(s.frames), maxWorkers)
		}
	}
}
