package export

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

var errFull = errors.New("no space left on device")

// failAfter accepts n bytes, then fails every write.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errFull
	}
	f.n -= len(p)
	return len(p), nil
}

// failingReader yields n zero bytes, then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

// Issue 20 (export goal): the two goroutines of an export's copy pass
// each other's failure on and stop: a full disk while the blobs are still
// being read, a failed blob while the archive is being written; and a
// copy that fails neither way copies everything.
func TestCopyAsync(t *testing.T) {
	if _, err := copyAsync(&failAfter{n: 3 << 20}, io.LimitReader(zeros{}, 1<<40)); !errors.Is(err, errFull) {
		t.Fatalf("copy to a full disk: %v, want %v", err, errFull)
	}
	errBlob := errors.New("blob 1234: corrupt")
	var out bytes.Buffer
	if _, err := copyAsync(&out, &failingReader{n: 5<<20 + 3, err: errBlob}); !errors.Is(err, errBlob) {
		t.Fatalf("copy of a failing reader: %v, want %v", err, errBlob)
	}
	out.Reset()
	src := bytes.Repeat([]byte("pocketsnap"), 300_001)
	n, err := copyAsync(&out, bytes.NewReader(src))
	if err != nil || n != int64(len(src)) || !bytes.Equal(out.Bytes(), src) {
		t.Fatalf("copy: %d bytes, %v; equal %v", n, err, bytes.Equal(out.Bytes(), src))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
