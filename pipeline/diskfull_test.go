package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, or skips
// the test where the machine forbids mounting.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs on %s (%v): this test needs root or CAP_SYS_ADMIN", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillUp writes path until the filesystem is full, then frees leave bytes
// of it.
func fillUp(t *testing.T, path string, leave int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(max(0, n-leave)); err != nil {
		t.Fatal(err)
	}
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// repoFiles lists a repository's files with their sizes.
func repoFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d", p[len(dir):], info.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// Issue 17.7: a backup that runs out of space leaves the repository as it
// found it (no pack, no scratch file), a second one too, and the next
// backup succeeds as soon as there is space again.
func TestFullDiskBackupCleansUp(t *testing.T) {
	mnt := mountTmpfs(t, 32<<20)
	r := repotest.NewAt(t, filepath.Join(mnt, "repo"), false)
	src := t.TempDir()
	for i := range 3 {
		randomFile(t, filepath.Join(src, fmt.Sprintf("f%d", i)), 4<<20, uint64(100+i))
	}
	randomFile(t, filepath.Join(src, "small"), 100, 7)
	first := r.Backup(t, "tree", src, nil) // the repository is not empty
	randomFile(t, filepath.Join(src, "f0"), 4<<20, 200)
	randomFile(t, filepath.Join(src, "f1"), 4<<20, 201)
	randomFile(t, filepath.Join(src, "f2"), 4<<20, 202)

	// Room for one pack and a half of the 12 MiB that changed.
	fillUp(t, filepath.Join(mnt, "filler"), 6<<20)
	files, free := repoFiles(t, r.Dir), freeBytes(t, mnt)
	for run := range 2 {
		s := r.Open(t, false)
		_, err := pipeline.Backup(context.Background(), s, pipeline.Options{Kind: "tree", Source: src})
		s.Close()
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("run %d: backup on a full disk: %v, want ENOSPC", run, err)
		}
		t.Logf("run %d: %v", run, err)
		if got := repoFiles(t, r.Dir); fmt.Sprint(got) != fmt.Sprint(files) {
			t.Fatalf("run %d: the failed backup left the repository changed:\n%q\nwas\n%q", run, got, files)
		}
		if got := freeBytes(t, mnt); got != free {
			t.Fatalf("run %d: %d bytes free after the failed backup, %d before", run, got, free)
		}
	}

	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	res := r.Backup(t, "tree", src, nil)
	if res.Manifest.Incomplete || res.Manifest.Name == first.Manifest.Name {
		t.Fatalf("backup after space was freed: %+v", res.Manifest)
	}
	r.Stream(t, res.Manifest.Name) // verified in full
}
