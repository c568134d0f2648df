package manifest

import (
	"slices"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

func TestDelete(t *testing.T) {
	s, err := chunkstore.Init(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := testManifest()
	if err := Save(s, m); err != nil {
		t.Fatal(err)
	}
	if err := Delete(s, m.Name); err != nil {
		t.Fatal(err)
	}
	if names, err := Names(s); err != nil || len(names) != 0 {
		t.Fatalf("after Delete: %q, %v", names, err)
	}
	// A rotation killed after the deletion runs it again.
	if err := Delete(s, m.Name); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if err := Delete(s, "../config"); err == nil {
		t.Error("Delete accepted a name that is not a snapshot's")
	}
	if _, err := chunkstore.Open(s.Dir()); err != nil {
		t.Errorf("repository damaged: %v", err)
	}
}

func TestReferenced(t *testing.T) {
	a := testManifest()
	b := &Manifest{Name: Name("db", time.Now()), Blobs: []chunkstore.ID{{1}, a.Blobs[0]}}
	set := Referenced([]*Manifest{a, b})
	if n := len(slices.Collect(set.All())); n != len(a.Blobs)+1 {
		t.Fatalf("%d blobs, want %d", n, len(a.Blobs)+1)
	}
	for _, id := range append(a.Blobs, chunkstore.ID{1}) {
		if !set.Has(id) {
			t.Errorf("blob %s missing", id.Short())
		}
	}
}
