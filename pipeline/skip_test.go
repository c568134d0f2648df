package pipeline_test

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// paths lists a snapshot's file index.
func paths(t *testing.T, r *repotest.Repo, name string) []string {
	t.Helper()
	var out []string
	for _, f := range repotest.Files(t, r.Load(t, name)) {
		out = append(out, f.Path)
	}
	return out
}

// Issue 18.11: a backup never reads the directories it is told to exclude
// (by device and inode, wherever they lie) or whose names mark them as
// pocketsnap's own, says which it skipped, reads a graft in place of the
// directory it replaces, and calls Release once the source is read.
func TestExcludeSkipAndGraft(t *testing.T) {
	src := t.TempDir()
	randomFile(t, filepath.Join(src, "etc", "passwd"), 100, 1)
	randomFile(t, filepath.Join(src, "backups", "repo", "config"), 100, 2)
	randomFile(t, filepath.Join(src, "var", "lib", "conduwuit", "db", "LIVE.sst"), 5000, 3)
	randomFile(t, filepath.Join(src, "var", "lib", "conduwuit", "db.pocketsnap-staging-20261206T040000.000000000Z", "x"), 100, 4)
	randomFile(t, filepath.Join(src, "srv", "data.restoring-20261206T040000Z", "x"), 100, 5)
	randomFile(t, filepath.Join(src, "srv", "data.broken-20261206T040000Z", "x"), 100, 6)
	randomFile(t, filepath.Join(src, "srv", "data.undone-20261206T040000Z", "x"), 100, 7)
	randomFile(t, filepath.Join(src, "srv", "notes.broken-glass", "x"), 100, 8) // not a stamp: kept
	staged := t.TempDir()
	sst := randomFile(t, filepath.Join(staged, "000012.sst"), 5000, 9)
	skipName := func(name string) bool {
		for _, suffix := range []string{".pocketsnap-staging-2", ".restoring-2", ".broken-2", ".undone-2"} {
			if strings.Contains(name, suffix) {
				return true
			}
		}
		return false
	}

	r := repotest.New(t, false)
	released := 0
	res := r.Backup(t, "rootfs", src, func(o *pipeline.Options) {
		o.Exclude = []string{filepath.Join(src, "backups"), filepath.Join(src, "nonexistent")}
		o.SkipName = skipName
		o.Grafts = map[string]string{"var/lib/conduwuit/db": staged}
		o.Release = func() (time.Duration, error) {
			released++
			return 1500 * time.Millisecond, nil
		}
	})
	want := []string{".", "etc", "etc/passwd", "srv", "srv/notes.broken-glass", "srv/notes.broken-glass/x",
		"var", "var/lib", "var/lib/conduwuit", "var/lib/conduwuit/db", "var/lib/conduwuit/db/000012.sst"}
	if got := paths(t, r, res.Manifest.Name); !slices.Equal(got, want) {
		t.Errorf("stored %q\nwant %q", got, want)
	}
	wantSkipped := []string{"backups", "srv/data.broken-20261206T040000Z", "srv/data.restoring-20261206T040000Z",
		"srv/data.undone-20261206T040000Z", "var/lib/conduwuit/db.pocketsnap-staging-20261206T040000.000000000Z"}
	if !slices.Equal(res.Skipped, wantSkipped) {
		t.Errorf("skipped %q\nwant %q", res.Skipped, wantSkipped)
	}
	if released != 1 || res.Manifest.DowntimeMS != 1500 {
		t.Errorf("Release called %d times, downtime %d ms; want once, 1500", released, res.Manifest.DowntimeMS)
	}
	if !bytes.Contains(r.Stream(t, res.Manifest.Name), sst) {
		t.Error("the graft's file is not in the stream")
	}

	// An empty graft stores the directory, without its contents.
	res = r.Backup(t, "rootfs", src, func(o *pipeline.Options) {
		o.Grafts = map[string]string{"var/lib/conduwuit/db": ""}
		o.SkipName = skipName
	})
	got := paths(t, r, res.Manifest.Name)
	if !slices.Contains(got, "var/lib/conduwuit/db") || slices.Contains(got, "var/lib/conduwuit/db/LIVE.sst") {
		t.Errorf("with an empty graft, stored %q", got)
	}
}
