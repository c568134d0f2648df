package prune_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/prune"
	"github.com/pocketsnap/pocketsnap/retention"
)

// setFiles lists the repository's set objects.
func setFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, manifest.SetsDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		files[i] = manifest.SetsDir + "/" + filepath.Base(f)
	}
	return files
}

// rewrite gives n of the source's 40 files new random content.
func rewrite(t *testing.T, src string, n int) {
	t.Helper()
	for i := range n {
		b := make([]byte, 2000)
		rand.Read(b)
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 20 (manifest v2, public part): rotate deletes a set object once no
// kept snapshot names it, never one a kept snapshot needs (as the base of
// its delta), and every kept snapshot still reads back whole.
func TestLocalKeepsTheSetsKeptSnapshotsNeed(t *testing.T) {
	repo := repotest.New(t, false)
	src := t.TempDir()
	rewrite(t, src, 40)
	var names []string
	var streams [][]byte
	for _, changed := range []int{40, 2, 40, 2} { // base A, delta on A, base B, delta on B
		rewrite(t, src, changed)
		names = append(names, repo.Backup(t, "db", src, nil).Manifest.Name)
		streams = append(streams, repo.Stream(t, names[len(names)-1]))
		time.Sleep(1100 * time.Millisecond)
	}
	base := func(name string) string {
		m := repo.Load(t, name)
		if m.Version != manifest.Version2 {
			t.Fatalf("%s: manifest version %d", name, m.Version)
		}
		return manifest.SetName(m.Base)
	}
	a, b := base(names[0]), base(names[2])
	if base(names[1]) != a || base(names[3]) != b || a == b {
		t.Fatalf("bases %s %s %s %s: want A A B B", a, base(names[1]), b, base(names[3]))
	}
	if got := setFiles(t, repo.Dir); !slices.Equal(got, slices.Sorted(slices.Values([]string{a, b}))) {
		t.Fatalf("set objects %v, want %s and %s", got, a, b)
	}
	s := repo.Open(t, false)
	rotate := func(last int) *prune.Report {
		t.Helper()
		rep, err := prune.Local(t.Context(), s, prune.Options{Policy: func(string) retention.Policy { return retention.Policy{Last: last} }})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	// A backup killed between storing a new set object and its manifest
	// leaves a set object no manifest names.
	orphanBytes, orphanID := manifest.EncodeSet([]manifest.Prefix{{1}})
	orphan := manifest.SetName(orphanID)
	if err := os.WriteFile(filepath.Join(repo.Dir, orphan), orphanBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	// Snapshot 1 goes; snapshot 2 still names A. The orphan goes.
	if rep := rotate(3); len(rep.Sets) != 1 || rep.Sets[0].Name != orphan || len(setFiles(t, repo.Dir)) != 2 {
		t.Fatalf("deleted sets %v, want only %s: a kept snapshot names each other one", rep.Sets, orphan)
	}
	// Snapshot 2 goes: A is garbage, B is not.
	for range 2 { // run twice: the second finds nothing more to do
		rotate(2)
		if got := setFiles(t, repo.Dir); !slices.Equal(got, []string{b}) {
			t.Fatalf("set objects %v, want only %s", got, b)
		}
	}
	for i, name := range names[2:] {
		if got := repo.Stream(t, name); !slices.Equal(got, streams[2+i]) {
			t.Fatalf("%s does not read back after rotate", name)
		}
	}
	// Snapshot 3, which stored B, goes: snapshot 4 still needs B.
	rotate(1)
	if got := setFiles(t, repo.Dir); !slices.Equal(got, []string{b}) {
		t.Fatalf("set objects %v, want %s, the base snapshot 4 needs", got, b)
	}
	if got := repo.Stream(t, names[3]); !slices.Equal(got, streams[3]) {
		t.Fatalf("%s does not read back after rotate", names[3])
	}
}

// Issue 20: while a manifest does not load, rotate deletes no set object:
// it may need any of them.
func TestLocalKeepsEverySetWhileAManifestIsUnreadable(t *testing.T) {
	repo := repotest.New(t, false)
	src := t.TempDir()
	var names []string
	for range 3 {
		rewrite(t, src, 40)
		names = append(names, repo.Backup(t, "db", src, nil).Manifest.Name)
		time.Sleep(1100 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(repo.Dir, manifest.Dir, names[2]), []byte("not a manifest"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := setFiles(t, repo.Dir)
	s := repo.Open(t, false)
	rep, err := prune.Local(t.Context(), s, prune.Options{Policy: func(string) retention.Policy { return retention.Policy{Last: 1} }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sets) != 0 || !slices.Equal(setFiles(t, repo.Dir), before) || len(before) != 3 {
		t.Fatalf("sets %v deleted (of %v) while %s is unreadable", rep.Sets, before, names[2])
	}
}
