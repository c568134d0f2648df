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
		j := &job{data: text, size: len(text), held: units(len(text))}
		if err := bud.acquire(context.Background(), j.held); err != nil {
			t.Fatal(err)
		}
		b.hashAndCompress(j, bud)
		if j.frame == nil || j.id != keys.BlobID(text) {
			t.Fatalf("keepPlain %v: no frame, or the wrong ID", keep)
		}
		want, data := units(cap(j.frame)), 0
		if keep {
			want, data = units(len(text)), len(text)
		}
		if len(bud) != want || j.held != want || len(j.data) != data {
			t.Errorf("keepPlain %v: the budget holds %d units and the job %d with %d bytes of plaintext; want %d units and %d bytes (frame %d bytes, capacity %d)",
				keep, len(bud), j.held, len(j.data), want, data, len(j.frame), cap(j.frame))
		}
		if !keep && cap(j.frame) > len(j.frame)+len(j.frame)/4 {
			t.Errorf("the frame of %d bytes keeps a capacity of %d while it waits", len(j.frame), cap(j.frame))
		}
		bud.release(j.held)
		if len(bud) != 0 {
			t.Errorf("keepPlain %v: %d units left after the consumer's release", keep, len(bud))
		}
	}
}
