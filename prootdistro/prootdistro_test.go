package prootdistro

import (
	"os"
	"path/filepath"
	"testing"
)

// Issue 21.5: the default ROOTFS_DIR finds proot-distro 5's containers
// layout, the legacy installed-rootfs one, prefers the new one when both
// exist (proot-distro 5 moves the old one there), and says which.
func TestRootfsFindsEitherLayout(t *testing.T) {
	prefix := t.TempDir()
	v5 := filepath.Join(prefix, "var/lib/proot-distro/containers/debian/rootfs")
	legacy := filepath.Join(prefix, "var/lib/proot-distro/installed-rootfs/debian")
	check := func(wantDir string, wantLayout Layout) {
		t.Helper()
		if dir, layout := Rootfs(prefix, "debian"); dir != wantDir || layout != wantLayout {
			t.Errorf("Rootfs = %s, %q; want %s, %q", dir, layout, wantDir, wantLayout)
		}
	}
	check(v5, NotFound)
	if err := os.MkdirAll(legacy, 0o755); err != nil {
		t.Fatal(err)
	}
	check(legacy, Legacy)
	if err := os.MkdirAll(v5, 0o755); err != nil {
		t.Fatal(err)
	}
	check(v5, Containers)
	if dir, layout := Rootfs(prefix, "ubuntu"); layout != NotFound || dir != filepath.Join(prefix, "var/lib/proot-distro/containers/ubuntu/rootfs") {
		t.Errorf("another container: %s, %q", dir, layout)
	}
}
