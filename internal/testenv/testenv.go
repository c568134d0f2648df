// Package testenv decides what a test does when a tool it needs is
// missing: skip on a developer's machine, fail in CI (CI=true), where a
// skipped integration test would hide a missing install step.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// CI reports whether the tests run in CI.
func CI() bool { return os.Getenv("CI") == "true" }

// NeedTools skips (or, in CI, fails) the test unless every command is on
// PATH.
func NeedTools(t testing.TB, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			Unavailable(t, "%s is not installed (make test installs it)", c)
		}
	}
}

// Unavailable skips the test, or fails it in CI.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf("CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

// Ended reports whether process pid has ended (is gone, or a zombie
// waiting for its parent) within d. A process sent SIGKILL takes a
// moment to die.
func Ended(pid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || bytes.Contains(stat, []byte(") Z ")) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// LooseMount mounts a filesystem that ignores chmod and shows every file
// as mode 0755, and returns its directory: vfat on a loop device (an SD
// card), or else bindfs (FUSE, as Android's shared storage is).
func LooseMount(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a filesystem needs root")
	}
	mnt := t.TempDir()
	img := filepath.Join(t.TempDir(), "sd.img")
	if _, err := exec.LookPath("mkfs.vfat"); err == nil {
		if err := os.WriteFile(img, make([]byte, 8<<20), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mkfs.vfat", img).CombinedOutput(); err != nil {
			t.Fatalf("mkfs.vfat: %v\n%s", err, out)
		}
		if exec.Command("mount", "-o", "loop,umask=022", img, mnt).Run() == nil {
			t.Cleanup(func() { exec.Command("umount", mnt).Run() })
			return mnt
		}
	}
	NeedTools(t, "bindfs")
	src := t.TempDir()
	if out, err := exec.Command("bindfs", "--perms=0755", "--chmod-ignore", src, mnt).CombinedOutput(); err != nil {
		t.Skipf("this machine mounts neither vfat nor FUSE: bindfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	return mnt
}
