package chunkstore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A machine holding a copy of the repository without local/ (and the
// identity) rebuilds the index from the pack trailers and reads every blob
// back. age's decrypting reader returns io.EOF with a read that ends at
// the end of the pack, as the trailer's does.
func TestFreshMachineReadsBlobs(t *testing.T) {
	s := gcStore(t)
	ids := append(writePack(t, s, ClassMeta, 1, 2, 3), writePack(t, s, ClassChunk, 4)...)
	if err := os.RemoveAll(filepath.Join(s.Dir(), LocalDir)); err != nil {
		t.Fatal(err)
	}
	r, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetIdentities(s.codec.identities)
	readsBack(t, r, ids)
}

// readsBack checks that the store reads blobs 1, 2, … (see blob) back
// under ids.
func readsBack(t *testing.T, r *Store, ids []ID) {
	t.Helper()
	for i, id := range ids {
		got, err := r.ReadBlob(id, nil)
		if err != nil {
			t.Fatalf("blob %d: %v", i+1, err)
		}
		if !bytes.Equal(got, blob(i+1)) {
			t.Fatalf("blob %d reads back different", i+1)
		}
	}
}
