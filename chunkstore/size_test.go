package chunkstore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Issue 19.4: the repository's size, moved out of the status command,
// counts its files but not its device state or unfinished writes, and
// names a directory with no repository.
func TestSize(t *testing.T) {
	dir := t.TempDir()
	if _, err := Size(dir); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Size of an empty directory: %v, want ErrNotExist", err)
	}
	s, err := Init(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base, err := Size(dir)
	if err != nil || base <= 0 {
		t.Fatalf("Size of a new repository: %d, %v", base, err)
	}
	for name, n := range map[string]int{
		"data/ab/pack":                    1000,    // counted
		LocalDir + "/big-cache":           1 << 20, // device state: not counted
		"data/cd/pack" + tempMarker + "x": 1 << 20, // unfinished: not counted
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := Size(dir); err != nil || got != base+1000 {
		t.Fatalf("Size: %d, %v; want %d", got, err, base+1000)
	}
}
