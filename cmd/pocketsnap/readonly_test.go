package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pocketsnap/pocketsnap/internal/flock"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// unlockedWarning starts the warning of a reader that goes on without the
// repository lock.
const unlockedWarning = "warning: cannot lock the repository"

// readOnlyFixture is a repository with one rootfs snapshot, and the
// commands that read it.
type readOnlyFixture struct {
	c    *cli
	repo string
	snap string
	out  string // a directory the commands write their results into
}

func newReadOnlyFixture(t *testing.T) *readOnlyFixture {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	os.MkdirAll(filepath.Join(src, "etc"), 0o755)
	os.WriteFile(filepath.Join(src, "etc", "hostname"), []byte("phone\n"), 0o644)
	c.env = append(c.env, "ROOTFS_DIR="+src)
	c.mustRun("backup", "rootfs")
	out := filepath.Join(c.dir, "out")
	os.Mkdir(out, 0o755)
	return &readOnlyFixture{c: c, repo: filepath.Join(c.dir, "data", "backups", "repo"), snap: c.snapshots()[0], out: out}
}

// readers runs every reading command, each into fresh output paths named
// after round, and returns their combined output.
func (f *readOnlyFixture) readers(t *testing.T, round string, withSnapshots bool) string {
	t.Helper()
	var all strings.Builder
	cmds := [][]string{
		{"ls", f.snap},
		{"check", "--read-data"},
		{"restore", f.snap, "--target", filepath.Join(f.out, round+"-restored")},
		{"export", f.snap, "--output", filepath.Join(f.out, round+"-rootfs-20261101T000000Z.tar.zst")},
	}
	if withSnapshots {
		cmds = append(cmds, []string{"snapshots"})
	}
	for _, args := range cmds {
		all.WriteString(f.c.mustRun(append(args, "--lock-wait", "0")...))
	}
	if b, err := os.ReadFile(filepath.Join(f.out, round+"-restored", "etc", "hostname")); err != nil || string(b) != "phone\n" {
		t.Errorf("%s: restored etc/hostname = %q, %v", round, b, err)
	}
	return all.String()
}

// listTree returns every path below dir with its mode and size.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, p+" "+fi.Mode().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// Issue 17.4: snapshots, ls, check, restore and export work on a
// repository on a read-only mount. With a lock file there, they lock it
// through a read-only descriptor, so a writer holding it elsewhere still
// keeps them out; without one (no local/), they say once that they read
// without the lock, and create nothing.
func TestReadingCommandsOnReadOnlyMount(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "a read-only bind mount needs root")
	}
	f := newReadOnlyFixture(t)
	mnt := filepath.Join(f.c.dir, "ro")
	os.MkdirAll(filepath.Join(mnt, "repo"), 0o755)
	if out, err := exec.Command("mount", "--bind", f.repo, filepath.Join(mnt, "repo")).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "this machine forbids mounting: mount --bind: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", filepath.Join(mnt, "repo")).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", filepath.Join(mnt, "repo")).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(mnt, "repo", "probe"), nil, 0o600); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("the mount is not read-only: writing into it gave %v", err)
	}
	f.c.env = append(f.c.env, "BACKUP_DIR="+mnt)

	out := f.readers(t, "locked", true)
	if strings.Contains(out, unlockedWarning) {
		t.Errorf("with a lock file there, a reader went on without the lock:\n%s", out)
	}
	// A writer holding the lock through the writable path keeps readers
	// of the read-only mount out: they did take the shared lock.
	l, err := flock.Take(filepath.Join(f.repo, "local", "lock"), true)
	if err != nil {
		t.Fatal(err)
	}
	code, lout := f.c.run("ls", f.snap, "--lock-wait", "0")
	l.Unlock()
	if code != exitLocked {
		t.Errorf("ls while a writer holds the lock: exit %d, want %d:\n%s", code, exitLocked, lout)
	}

	// Without local/ (a copy of the repository without the device's
	// state), only the commands that read with the identity can work;
	// each says once that it reads without the lock.
	if err := os.Rename(filepath.Join(f.repo, "local"), filepath.Join(f.c.dir, "local.saved")); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, f.repo)
	out = f.readers(t, "unlocked", false)
	if n := strings.Count(out, unlockedWarning); n != 4 {
		t.Errorf("4 commands said %d times that they read without the lock:\n%s", n, out)
	}
	if after := listTree(t, f.repo); !slices.Equal(before, after) {
		t.Errorf("reading commands changed the repository:\nbefore %v\nafter  %v", before, after)
	}
}

// Issue 17.4: on a repository this user may not write (no write
// permission on local/), the reading commands lock an existing lock file
// read-only, and without one say once that they read without the lock;
// either way they create nothing. Run as nobody, since root writes
// everywhere.
func TestReadingCommandsOnUnwritableRepository(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "running a command as another user needs root")
	}
	f := newReadOnlyFixture(t)
	c := f.c
	c.asNobody() // c.dir, the repository in it included, becomes nobody's
	local := filepath.Join(f.repo, "local")
	os.Chmod(local, 0o500)
	os.Chmod(f.repo, 0o500)
	t.Cleanup(func() { os.Chmod(f.repo, 0o700); os.Chmod(local, 0o700) })

	// The lock file is there but not writable: locked read-only.
	os.Chmod(filepath.Join(local, "lock"), 0o400)
	before := listTree(t, f.repo)
	out := f.readers(t, "locked", true)
	if strings.Contains(out, unlockedWarning) {
		t.Errorf("with a lock file there, a reader went on without the lock:\n%s", out)
	}
	if after := listTree(t, f.repo); !slices.Equal(before, after) {
		t.Errorf("reading commands changed the repository:\nbefore %v\nafter  %v", before, after)
	}
	l, err := flock.Take(filepath.Join(local, "lock"), true)
	if err != nil {
		t.Fatal(err)
	}
	code, lout := c.run("ls", f.snap, "--lock-wait", "0")
	l.Unlock()
	if code != exitLocked {
		t.Errorf("ls while a writer holds the lock: exit %d, want %d:\n%s", code, exitLocked, lout)
	}

	// No lock file, and none can be created: read without the lock.
	os.Remove(filepath.Join(local, "lock"))
	before = listTree(t, f.repo)
	out = f.readers(t, "unlocked", true)
	if n := strings.Count(out, unlockedWarning); n != 5 {
		t.Errorf("5 commands said %d times that they read without the lock:\n%s", n, out)
	}
	if after := listTree(t, f.repo); !slices.Equal(before, after) {
		t.Errorf("reading commands changed the repository:\nbefore %v\nafter  %v", before, after)
	}
}
