package prune_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/prune"
	"github.com/pocketsnap/pocketsnap/retention"
)

// packFiles lists the repository's pack files.
func packFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "data", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Issue 17.5: rotate keeps applying retention to the valid snapshots when
// one manifest does not load, but deletes no pack while it cannot tell
// what that snapshot needs; forgetting it explicitly lets the garbage go.
func TestLocalKeepsGoingPastAnUnreadableManifest(t *testing.T) {
	repo := repotest.New(t, false)
	src := t.TempDir()
	var names []string
	for i := range 4 {
		b := make([]byte, 1<<20+i)
		rand.Read(b)
		if err := os.WriteFile(filepath.Join(src, "day.bin"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, repo.Backup(t, "db", src, nil).Manifest.Name)
		time.Sleep(1100 * time.Millisecond)
	}
	damaged := filepath.Join(repo.Dir, manifest.Dir, names[1])
	if err := os.WriteFile(damaged, []byte("not a manifest"), 0o600); err != nil {
		t.Fatal(err)
	}
	opt := prune.Options{Policy: func(string) retention.Policy { return retention.Policy{Last: 2} }}
	s := repo.Open(t, false)
	before := packFiles(t, repo.Dir)

	for range 2 { // run twice: the second finds nothing more to do
		rep, err := prune.Local(t.Context(), s, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Unreadable) != 1 || rep.Unreadable[0].Name != names[1] {
			t.Fatalf("unreadable %v, want %s", rep.Unreadable, names[1])
		}
		if len(rep.Packs) != 0 || !slices.Equal(packFiles(t, repo.Dir), before) {
			t.Fatalf("packs were deleted while %s is unreadable: %v", names[1], rep.Packs)
		}
	}
	left, err := manifest.Names(s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(left, names[1:]) {
		t.Fatalf("left %v, want %v: retention must go on for the valid snapshots", left, names[1:])
	}

	opt.Forget = []string{names[1]}
	rep, err := prune.Local(t.Context(), s, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Snapshots) != 1 || rep.Snapshots[0].Name != names[1] || rep.Snapshots[0].Policy != "forget" || len(rep.Packs) == 0 {
		t.Fatalf("forget %s: deleted %+v and %d packs", names[1], rep.Snapshots, len(rep.Packs))
	}
	for _, p := range rep.Packs {
		id, _ := chunkstore.ParseID(p.ID)
		if _, err := os.Stat(s.Path(chunkstore.PackName(id))); !os.IsNotExist(err) {
			t.Fatalf("pack %s is still there: %v", p.ID, err)
		}
	}
	if _, err := prune.Local(t.Context(), s, prune.Options{Policy: opt.Policy, Forget: []string{"db-20000101T000000Z"}}); err == nil {
		t.Fatal("forgetting a snapshot that does not exist succeeded")
	}
}
