package pipeline_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// secretFile writes a root-only file outside the source, with bytes no
// other file holds, and returns its path and content.
func secretFile(t *testing.T) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shadow")
	return path, randomFile(t, path, 20000, 1717)
}

// Issue 17.1: an entry swapped for another object between the walk's
// lstat and its opening is left out and reported as changed; no other
// file's content is ever stored under its name, and a FIFO swapped in
// does not block the backup.
func TestSwappedEntryIsNotStored(t *testing.T) {
	secret, secretData := secretFile(t)
	secretDir := filepath.Dir(secret)
	swaps := []struct {
		name, victim string
		swap         func(path string) error
	}{
		{"file to symlink", "user.txt", func(p string) error { return os.Symlink(secret, p) }},
		{"file to FIFO", "user.txt", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"file to directory", "user.txt", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"directory to symlink", "sub", func(p string) error { return os.Symlink(secretDir, p) }},
	}
	for _, tc := range swaps {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			randomFile(t, filepath.Join(src, "before.txt"), 3000, 1)
			randomFile(t, filepath.Join(src, "user.txt"), 3000, 2)
			randomFile(t, filepath.Join(src, "sub", "shadow"), 3000, 3)
			randomFile(t, filepath.Join(src, "zafter.txt"), 3000, 4)
			victim := filepath.Join(src, tc.victim)
			var swapped atomic.Bool
			pipeline.SetTestHookOpen(t, func(rel string) {
				if rel != tc.victim || swapped.Swap(true) {
					return
				}
				if err := os.RemoveAll(victim); err != nil {
					t.Error(err)
				}
				if err := tc.swap(victim); err != nil {
					t.Error(err)
				}
			})
			var warned []string
			r := repotest.New(t, false)
			res := r.Backup(t, "tree", src, func(o *pipeline.Options) {
				o.Warn = func(path string, err error) {
					if errors.Is(err, pipeline.ErrChanged) {
						warned = append(warned, path)
					}
				}
			})
			if !swapped.Load() {
				t.Fatal("the hook never ran for", tc.victim)
			}
			m := res.Manifest
			if !m.Incomplete || res.Details.Counts.Changed != 1 || len(warned) != 1 || warned[0] != tc.victim {
				t.Fatalf("incomplete %v, changed %d, warned %q; want incomplete, 1 changed, %q named",
					m.Incomplete, res.Details.Counts.Changed, warned, tc.victim)
			}
			stream := r.Stream(t, m.Name)
			if bytes.Contains(stream, secretData[:4096]) {
				t.Fatal("the snapshot holds the secret file's bytes")
			}
			var paths []string
			for _, f := range repotest.Files(t, r.Load(t, m.Name)) {
				paths = append(paths, f.Path)
				if f.Path == tc.victim || strings.HasPrefix(f.Path, tc.victim+"/") {
					t.Errorf("the swapped entry %s was stored as a %s", f.Path, f.Type)
				}
			}
			if !strings.Contains(strings.Join(paths, " "), "before.txt") || !strings.Contains(strings.Join(paths, " "), "zafter.txt") {
				t.Errorf("the other entries are missing: %q", paths)
			}
		})
	}
}

// Issue 17.1: a user racing renames of a symlink to a root-only file over
// files of theirs never gets that file's bytes into any snapshot.
func TestSymlinkRaceNeverStoresTheTarget(t *testing.T) {
	secret, secretData := secretFile(t)
	src := t.TempDir()
	const targets = 8
	for i := range targets {
		randomFile(t, filepath.Join(src, fmt.Sprintf("target%02d", i)), 4096, uint64(i))
		if err := os.Symlink(secret, filepath.Join(src, fmt.Sprintf("link%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// The racer exchanges each target with its symlink, atomically, as
	// fast as it can: each name is by turns a file and the symlink.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var swaps atomic.Int64
	wg.Go(func() {
		for i := 0; ; i = (i + 1) % targets {
			select {
			case <-stop:
				return
			default:
			}
			a, b := filepath.Join(src, fmt.Sprintf("target%02d", i)), filepath.Join(src, fmt.Sprintf("link%02d", i))
			if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("exchange %s and %s: %v", a, b, err)
				return
			}
			swaps.Add(1)
		}
	})
	defer wg.Wait()
	defer close(stop)
	// Widen the window between the walk's lstat and the open, so that
	// the race is won often, not once in forty runs.
	pipeline.SetTestHookOpen(t, func(string) { time.Sleep(200 * time.Microsecond) })
	r := repotest.New(t, false)
	changed := 0
	const runs = 10
	for range runs {
		res := r.Backup(t, "tree", src, func(o *pipeline.Options) { o.ForceRead = true })
		changed += res.Details.Counts.Changed
		if bytes.Contains(r.Stream(t, res.Manifest.Name), secretData[:4096]) {
			t.Fatalf("snapshot %s holds the symlink target's bytes", res.Manifest.Name)
		}
	}
	t.Logf("%d backups, %d swaps, %d entries reported as changed", runs, swaps.Load(), changed)
}
