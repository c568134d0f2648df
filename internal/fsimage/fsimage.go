//go:build linux

// Package fsimage mounts real filesystem images for tests: the exFAT and
// FAT32 (vfat) filesystems of a phone's SD card and shared storage, made
// with exfatprogs and dosfstools on an image file and mounted through a
// loop device with the kernel's driver, or with FUSE (exfat-fuse,
// fusefat) where the kernel has no driver.
package fsimage

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// Kind is a filesystem a phone offers.
type Kind string

// The kinds Mount makes.
const (
	ExFAT Kind = "exfat"
	VFAT  Kind = "vfat" // FAT32
)

// Mount makes a filesystem of kind in an image of size bytes, mounts it
// and returns the mount point, unmounted at the end of the test. It says
// how it mounted in the test log. It skips (fails in CI) when the tools
// are missing or the machine forbids both loop devices and FUSE.
func Mount(t *testing.T, kind Kind, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "mounting a %s image needs root", kind)
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, string(kind)+".img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	switch kind {
	case ExFAT:
		testenv.NeedTools(t, "mkfs.exfat", "mount.exfat-fuse", "losetup")
		run(t, "mkfs.exfat", "-L", "SDCARD", img)
	case VFAT:
		testenv.NeedTools(t, "mkfs.vfat", "losetup")
		run(t, "mkfs.vfat", "-F", "32", "-n", "SDCARD", img)
	}
	loop, loopErr := output("losetup", "--find", "--show", img)
	if loopErr == nil {
		t.Cleanup(func() { _, _ = output("losetup", "-d", loop) })
	}
	var how string
	var errs []string
	try := func(desc string, args ...string) bool {
		if _, err := output(args[0], args[1:]...); err != nil {
			errs = append(errs, desc+": "+err.Error())
			return false
		}
		how = desc
		return true
	}
	ok := false
	switch {
	case kind == ExFAT && loopErr == nil:
		ok = try("exfat-fuse on "+loop, "mount.exfat-fuse", loop, mnt)
	case kind == ExFAT:
		ok = try("exfat-fuse on the image file", "mount.exfat-fuse", img, mnt)
	}
	if !ok && kind == VFAT && loopErr == nil {
		ok = try("the kernel's vfat driver on "+loop, "mount", "-t", "vfat", "-o", "uid=0,gid=0,umask=022", loop, mnt)
	}
	if !ok && kind == VFAT {
		if _, err := exec.LookPath("fusefat"); err == nil {
			ok = try("fusefat on the image file", "fusefat", "-o", "rw+", img, mnt)
		}
	}
	if !ok {
		if loopErr != nil {
			errs = append(errs, "losetup: "+loopErr.Error())
		}
		testenv.Unavailable(t, "cannot mount a %s image (neither a loop device nor FUSE works here): %s", kind, strings.Join(errs, "; "))
	}
	t.Cleanup(func() { unmount(t, mnt) })
	t.Logf("%s mounted with %s", kind, how)
	return mnt
}

// unmount unmounts mnt, retrying while a process that just exited still
// holds it busy.
func unmount(t *testing.T, mnt string) {
	var err error
	for range 50 {
		if _, err = output("umount", mnt); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("umount %s: %v", mnt, err)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if _, err := output(name, args...); err != nil {
		t.Fatal(err)
	}
}

func output(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}
