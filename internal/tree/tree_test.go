package tree

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRemoveReadOnlyDirectories(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "x")
	if err := os.MkdirAll(filepath.Join(dir, "ro", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ro", "deep", "f"), []byte("x"), 0o400)
	os.Chmod(filepath.Join(dir, "ro", "deep"), 0o500)
	os.Chmod(filepath.Join(dir, "ro"), 0o500)
	if err := Remove(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists: %v", dir, err)
	}
	if err := Remove(dir); err != nil {
		t.Fatalf("removing a missing tree: %v", err)
	}
}
