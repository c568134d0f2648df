package chunkstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 10: two packs swapped (each stored under the other's name) are
// reported as such, naming the pack, both on the device and on a machine
// that rebuilds the index from the packs themselves, where every blob
// would otherwise still read back intact.
func TestSwappedPacksAreNamed(t *testing.T) {
	s := gcStore(t)
	a := writePack(t, s, ClassBody, 1, 2)
	b := writePack(t, s, ClassBody, 3, 4)
	ix, err := s.Index()
	if err != nil {
		t.Fatal(err)
	}
	la, _ := ix.Lookup(a[0])
	lb, _ := ix.Lookup(b[0])
	pa, pb := s.packPath(la.Pack), s.packPath(lb.Pack)
	ba, _ := os.ReadFile(pa)
	bb, _ := os.ReadFile(pb)
	if err := errors.Join(os.WriteFile(pa, bb, 0o600), os.WriteFile(pb, ba, 0o600)); err != nil {
		t.Fatal(err)
	}

	for _, where := range []string{"device", "fresh machine"} {
		if where == "fresh machine" {
			os.RemoveAll(filepath.Join(s.Dir(), LocalDir))
		}
		r, err := Open(s.Dir())
		if err != nil {
			t.Fatal(err)
		}
		r.SetIdentities(s.codec.identities)
		for _, id := range append(a, b...) {
			_, err := r.ReadBlob(id, nil)
			var be *BlobError
			if !errors.As(err, &be) || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "stored bytes hash to") {
				t.Errorf("%s: blob %s of a swapped pack: %v", where, id.Short(), err)
				continue
			}
			if other := map[ID]ID{la.Pack: lb.Pack, lb.Pack: la.Pack}[be.Pack]; !strings.Contains(err.Error(), other.String()) {
				t.Errorf("%s: %v does not name the pack's real content %s", where, err, other)
			}
		}
		r.Close()
	}
}
