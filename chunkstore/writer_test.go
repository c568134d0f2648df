package chunkstore

import (
	"context"
	"crypto/rand"
	"runtime"
	"testing"
)

// A Writer keeps only the blobs of the packs in flight: once a pack is
// indexed its blobs leave pending, and they still deduplicate, also for a
// writer with its own index (as Repack uses).
func TestWriterForgetsCommittedBlobs(t *testing.T) {
	for _, own := range []bool{false, true} {
		s := gcStore(t)
		keys, w := newTestWriter(t, s)
		s.cfg.PackSize = 2 << 10
		if own {
			w.index = newIndex()
		}
		ctx := context.Background()
		var ids []ID
		add := func(b []byte) bool {
			id := keys.BlobID(b)
			isNew, err := w.Add(ctx, ClassBody, id, s.Compress(nil, b), len(b))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			return isNew
		}
		random := func() []byte {
			b := make([]byte, 1500)
			rand.Read(b)
			return b
		}
		first := random()
		add(first)
		// Sealed packs are committed in the background.
		for i := 0; w.isPending(ids[0]); i++ {
			if i == 10000 {
				t.Fatal("the first pack's blobs are still pending 10,000 blobs later")
			}
			if !add(random()) {
				t.Fatal("a new blob was not added")
			}
			runtime.Gosched()
		}
		if add(first) {
			t.Fatalf("own index %v: a blob whose pack is indexed was added again", own)
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(w.pending); n != 0 {
			t.Errorf("own index %v: %d blobs still pending after Flush", own, n)
		}
		for _, id := range ids {
			if !w.Has(id) {
				t.Fatalf("own index %v: blob %s forgotten", own, id.Short())
			}
		}
	}
}

func (w *Writer) isPending(id ID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.pending[id]
	return ok
}
