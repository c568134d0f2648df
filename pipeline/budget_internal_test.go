package pipeline

import (
	"bytes"
	"context"
	"testing"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// Issue 20.1: a worker gives back the budget of a piece's plaintext once
// it is compressed, but for what its frame keeps, so that the pieces
// behind one that is slow to compress go on being read; unless the
// consumer still needs the plaintext (a version 1 repository's stream
// digest), when the piece keeps all it held until it is taken.
func TestWorkerReleasesThePlaintextBudget(t *testing.T) {
	s, err := chunkstore.Init(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	ix, err := s.Index()
	if err != nil {
		t.Fatal(err)
	}
	text := bytes.Repeat([]byte("Package: libc6\nVersion: 2.41\n\n"), 40000) // 1.2 MB
	for _, keep := range []bool{false, true} {
		b := &backup{s: s, keys: keys, ix: ix, keepPlain: keep}
		bud := newBudget(4 << 20)
		j := &job{data: text, size: len(text), held: len(text)}
		if err := bud.acquire(context.Background(), j.held); err != nil {
			t.Fatal(err)
		}
		b.hashAndCompress(j, bud)
		if j.frame == nil || j.id != keys.BlobID(text) {
			t.Fatalf("keepPlain %v: no frame, or the wrong ID", keep)
		}
		want, data := cap(j.frame), 0
		if keep {
			want, data = len(text), len(text)
		}
		if j.held != want || len(j.data) != data || free(bud) != 4<<20-want {
			t.Errorf("keepPlain %v: the job holds %d bytes of the budget (%d free) with %d bytes of plaintext; want %d and %d bytes (frame %d bytes, capacity %d)",
				keep, j.held, free(bud), len(j.data), want, data, len(j.frame), cap(j.frame))
		}
		if !keep && cap(j.frame) > len(j.frame)+len(j.frame)/4 {
			t.Errorf("the frame of %d bytes keeps a capacity of %d while it waits", len(j.frame), cap(j.frame))
		}
		bud.release(j.held)
		if n := free(bud); n != 4<<20 {
			t.Errorf("keepPlain %v: %d bytes of the budget free after the consumer's release, want all", keep, n)
		}
	}
}

// free returns how many bytes of bud, a budget of 4 MiB, are free.
func free(bud budget) int {
	n := 0
	for step := 4 << 20; step > 0; step /= 2 {
		if bud.sem.TryAcquire(int64(step)) {
			n += step
		}
	}
	bud.release(n)
	return n
}

// Issue 20.1: the budget counts bytes, not 64 KiB units: 8 MiB lets
// thousands of tar headers be in flight, not 128.
func TestBudgetCountsBytes(t *testing.T) {
	bud := newBudget(8 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 8 << 10 {
		if err := bud.acquire(ctx, 1<<10); err != nil {
			t.Fatalf("header %d of 1 KiB did not fit: %v", i, err)
		}
	}
	cancel()
	if err := bud.acquire(ctx, 1); err == nil {
		t.Fatal("a full budget took one byte more")
	}
}
