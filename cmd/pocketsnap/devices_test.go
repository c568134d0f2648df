package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// Issue 17.9: a classic archive (made here by GNU tar) restores its device
// nodes only below dev/ and only when neither group nor others may write
// them, naming each one it refuses, unless --allow-devices; the system
// restore of an archive does the same.
func TestArchiveDeviceNodes(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "device nodes need root")
	}
	testenv.NeedTools(t, "tar", "zstd", "sha256sum")
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	os.MkdirAll(filepath.Join(src, "dev"), 0o755)
	os.MkdirAll(filepath.Join(src, "home"), 0o755)
	nodes := []struct {
		name    string
		mode    uint32
		refused string // why, or "" when created
	}{
		{"dev/null", unix.S_IFCHR | 0o666, "writable by group or others (mode 0666)"},
		{"dev/sda", unix.S_IFBLK | 0o640, ""},
		{"home/mem", unix.S_IFCHR | 0o600, "outside dev/"},
	}
	for _, n := range nodes {
		if err := unix.Mknod(filepath.Join(src, n.name), n.mode, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(src, n.name), fs.FileMode(n.mode&0o777))
	}
	os.WriteFile(filepath.Join(src, "home", "note"), []byte("kept\n"), 0o644)
	archive := filepath.Join(c.dir, "rootfs-20261101T040000Z.tar.zst")
	if out, err := exec.Command("sh", "-c", "tar --zstd -cf "+archive+" -C "+src+" . && cd "+c.dir+
		" && sha256sum rootfs-20261101T040000Z.tar.zst > rootfs-20261101T040000Z.tar.zst.sha256").CombinedOutput(); err != nil {
		t.Fatalf("GNU tar: %v: %s", err, out)
	}
	check := func(t *testing.T, dir, out string, allow bool) {
		t.Helper()
		if b, err := os.ReadFile(filepath.Join(dir, "home", "note")); err != nil || string(b) != "kept\n" {
			t.Errorf("home/note = %q, %v", b, err)
		}
		for _, n := range nodes {
			fi, err := os.Lstat(filepath.Join(dir, n.name))
			refused := n.refused != "" && !allow
			msg := `device node "./` + n.name + `" not created: a device node ` + n.refused
			switch {
			case refused && !os.IsNotExist(err):
				t.Errorf("%s was created (%v)", n.name, err)
			case refused && !strings.Contains(out, msg):
				t.Errorf("output does not name %s (%q):\n%s", n.name, msg, out)
			case !refused && (err != nil || uint32(fi.Mode().Perm()) != n.mode&0o777 || fi.Mode()&fs.ModeDevice == 0):
				t.Errorf("%s: %v, %v; want created with mode %#o", n.name, fi, err, n.mode&0o777)
			}
		}
	}

	out := c.mustRun("restore", "--archive", archive, "--target", filepath.Join(c.dir, "out"))
	check(t, filepath.Join(c.dir, "out"), out, false)
	if !strings.Contains(out, "hint: 2 device node(s) of "+archive+" were not created") {
		t.Errorf("no hint about the refused nodes:\n%s", out)
	}
	out = c.mustRun("restore", "--archive", archive, "--target", filepath.Join(c.dir, "all"), "--allow-devices")
	check(t, filepath.Join(c.dir, "all"), out, true)

	c.env = append(c.env, "ROOTFS_DIR="+filepath.Join(c.dir, "debian"))
	out = c.mustRun("restore", "--archive", archive, "--confirm=ERASE-AND-RESTORE", "--stack-stopped")
	check(t, filepath.Join(c.dir, "debian"), out, false)
}
