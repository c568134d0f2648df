package prune_test

import (
	"fmt"
	"iter"
	"maps"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// blobMap is the live set as garbage collection held it before Issue 20:
// a map of every blob of every kept manifest.
type blobMap map[chunkstore.ID]struct{}

func (m blobMap) Has(id chunkstore.ID) bool { _, ok := m[id]; return ok }

func (m blobMap) All() iter.Seq[chunkstore.ID] { return maps.Keys(m) }

func mapOf(list []*manifest.Manifest) blobMap {
	m := blobMap{}
	for _, mf := range list {
		for _, id := range mf.Blobs {
			m[id] = struct{}{}
		}
	}
	return m
}

// Issue 20 (end-of-backup peak RSS): on a real repository of version 2
// snapshots (two kinds, bases and deltas), the packs measured against
// the manifests' merged blob lists are those measured against the map,
// whichever snapshots are kept; a kept blob the index lacks is counted
// by both, so that orphans stay.
func TestUsageOfMergedListsEqualsTheMap(t *testing.T) {
	repo := repotest.New(t, false)
	src := t.TempDir()
	var names []string
	for i, changed := range []int{40, 3, 40, 5} {
		rewrite(t, src, changed)
		kind := []string{"db", "files"}[i%2]
		names = append(names, repo.Backup(t, kind, src, nil).Manifest.Name)
		time.Sleep(1100 * time.Millisecond)
	}
	s := repo.Open(t, false)
	var all []*manifest.Manifest
	for _, name := range names {
		m, err := manifest.Load(s, name)
		if err != nil {
			t.Fatal(err)
		}
		if m.Version != manifest.Version2 {
			t.Fatalf("snapshot %s is version %d", name, m.Version)
		}
		all = append(all, m)
	}
	missing := &manifest.Manifest{Blobs: []chunkstore.ID{{0xee, 1}}}
	for subset := range 1 << (len(all) + 1) {
		var kept []*manifest.Manifest
		for i, m := range append(all, missing) {
			if subset&(1<<i) != 0 {
				kept = append(kept, m)
			}
		}
		got, err := s.Usage(manifest.Referenced(kept))
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.Usage(mapOf(kept))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("kept %b: usage\n%+v\nwant\n%+v", subset, got, want)
		}
		if wantMissing := subset >> len(all); got.Unindexed != wantMissing {
			t.Errorf("kept %b: %d blobs not indexed, want %d", subset, got.Unindexed, wantMissing)
		}
	}
}
