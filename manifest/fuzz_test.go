package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
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
	keys, codec := testKeys(), chunkstore.NewCodec(nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, keys)
		if err != nil {
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
		d2, err := m2.Open(codec)
		if err != nil {
			t.Fatalf("re-encoded manifest does not open: %v", err)
		}
		if !reflect.DeepEqual(d, d2) || !reflect.DeepEqual(m.Blobs, m2.Blobs) || !bytes.Equal(again, mustEncode(t, m2)) {
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
