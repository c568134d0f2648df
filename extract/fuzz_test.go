//go:build linux

package extract

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// fuzzAbs is the absolute directory that the hostile seeds aim at. It must
// never come to exist.
const fuzzAbs = "/tmp/pocketsnap-extract-fuzz-escape"

// fuzzToken names the zip-slip files of the hostile seeds.
const fuzzToken = "pocketsnap-fuzz"

func FuzzExtract(f *testing.F) {
	seeds, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzExtract"))
	if err != nil {
		f.Fatalf("read seed corpus: %v", err)
	}
	if len(seeds) == 0 {
		f.Fatal("seed corpus testdata/fuzz/FuzzExtract is empty")
	}
	f.Add(archive(f, allTypes()...))
	for _, c := range hostileCases(f, fuzzAbs, fuzzToken) {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parent, target, sentinel := newTarget(t)
		_, err := Extract(context.Background(), bytes.NewReader(data), target, Options{Owners: os.Geteuid() == 0})
		var ee *EntryError
		if errors.As(err, &ee) && ee.Err == nil {
			t.Fatalf("EntryError for %q without a reason", ee.Name)
		}
		assertContained(t, parent, sentinel)
		for _, p := range []string{fuzzAbs, filepath.Join(parent, "..", "x-"+fuzzToken)} {
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%s exists after extraction (lstat: %v)", p, err)
			}
		}
	})
}
