package manifest

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// FuzzDecode feeds hostile bytes to the decoder. Whatever decodes and opens
// must re-encode to a manifest that decodes to the same thing.
func FuzzDecode(f *testing.F) {
	ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzDecode"))
	if err != nil || len(ents) == 0 {
		f.Fatalf("the seed corpus testdata/fuzz/FuzzDecode is empty or missing: %v", err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "manifest-v1.golden"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	seedSet, v2 := seedV2(f)
	f.Add(v2)
	keys, codec := testKeys(), chunkstore.NewCodec(nil)
	noIndex := func(Prefix) (chunkstore.ID, bool) { return chunkstore.ID{}, false }
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, keys)
		if err != nil {
			return
		}
		// Issue 20: a version 2 manifest is read with its set object; the
		// seeds' one is the only set there is.
		if err := m.UseSet(seedSet, noIndex); err != nil {
			return
		}
		d, err := m.Open(codec)
		if err != nil {
			return
		}
		again, err := Encode(m, keys, codec)
		if err != nil {
			t.Fatalf("re-encoding a decoded manifest: %v", err)
		}
		m2, err := Decode(again, keys)
		if err != nil {
			t.Fatalf("re-encoded manifest does not decode: %v", err)
		}
		if err := m2.UseSet(seedSet, noIndex); err != nil {
			t.Fatalf("re-encoded manifest does not take its set: %v", err)
		}
		d2, err := m2.Open(codec)
		if err != nil {
			t.Fatalf("re-encoded manifest does not open: %v", err)
		}
		if !reflect.DeepEqual(withFiles(t, m), withFiles(t, m2)) || d.Files != nil || d2.Files != nil || !reflect.DeepEqual(m.Blobs, m2.Blobs) || !bytes.Equal(again, mustEncode(t, m2)) {
			t.Fatal("round trip is not stable")
		}
	})
}

func mustEncode(t *testing.T, m *Manifest) []byte {
	b, err := Encode(m, testKeys(), chunkstore.NewCodec(nil))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedV2 returns a set object and a version 2 manifest of testManifest's
// blobs less one, stored against it.
func seedV2(f *testing.F) ([]byte, []byte) {
	m := testManifest()
	base, err := prefixesOf(m.Blobs)
	if err != nil {
		f.Fatal(err)
	}
	set, id := EncodeSet(base)
	m.Blobs = m.Blobs[1:]
	m.Version, m.Base = Version2, id
	m.added, m.removed = diffSets(base, base[1:])
	d := m.Details()
	for i := range d.Stream {
		d.Stream[i] = max(d.Stream[i], 1) - 1
	}
	b, err := Encode(m, testKeys(), chunkstore.NewCodec(nil))
	if err != nil {
		f.Fatal(err)
	}
	back, err := Decode(b, testKeys())
	if err == nil {
		err = back.UseSet(set, func(Prefix) (chunkstore.ID, bool) { return chunkstore.ID{}, false })
	}
	if err == nil {
		_, err = back.Open(chunkstore.NewCodec(nil))
	}
	if err != nil {
		f.Fatalf("the version 2 seed does not read back: %v", err)
	}
	return set, b
}

// FuzzSetDelta feeds hostile bytes to the set object parser and the delta
// arithmetic: a base and a delta that are accepted must give a set whose
// delta against the base is the one given.
func FuzzSetDelta(f *testing.F) {
	r := rand.New(rand.NewPCG(20, 3))
	base := randomPrefixes(r, 8)
	set, _ := EncodeSet(base)
	delta := append(slices.Clone(base[0][:]), make([]byte, 16)...)
	f.Add(set, []byte{1}, delta)
	f.Fuzz(func(t *testing.T, set, split, delta []byte) {
		base, err := DecodeSet(set, sha256.Sum256(set))
		if err != nil || len(split) == 0 {
			return
		}
		cut := min(int(split[0])*chunkstore.PrefixSize, len(delta))
		added, err1 := parsePrefixes(delta[:cut])
		removed, err2 := parsePrefixes(delta[cut:])
		if err1 != nil || err2 != nil {
			return
		}
		got, err := applyDelta(base, added, removed)
		if err != nil {
			return
		}
		if !slices.IsSortedFunc(got, comparePrefix) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatal("applyDelta gave a set that is not sorted and distinct")
		}
		a2, r2 := diffSets(base, got)
		if !slices.Equal(a2, added) || !slices.Equal(r2, removed) {
			t.Fatalf("delta %d/%d does not come back: %d/%d", len(added), len(removed), len(a2), len(r2))
		}
	})
}
