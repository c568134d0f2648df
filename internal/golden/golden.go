// Package golden compares test output with committed known-answer files, and rewrites them when tests run with -update.
//
// The known-answer vectors of the repository format live in the
// repository's top-level testdata/vectors (see doc/format.md). A test
// computes a vector with today's code and [Check]s it against the
// committed file, so that a change in an encoding, a library or Go itself
// fails a test instead of every repository.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// Update, set by the -update flag, makes [Check] write what it is given
// instead of comparing. Other fixtures that tests re-make share the flag.
var Update = flag.Bool("update", false, "rewrite known-answer files and fixtures from what the code does now")

// Check compares got with the committed file at path, or writes got there
// with -update.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: the format changed: the code now gives\n%s\nwhere the committed known answer is\n%s", path, got, want)
	}
}
