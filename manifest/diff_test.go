package manifest

import (
	"slices"
	"testing"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// snapshotOf makes an opened manifest whose stream gives each file a
// header blob and one body blob, the body's ID from its content label.
func snapshotOf(name string, files []File, bodies []string) *Manifest {
	m := &Manifest{Name: name}
	d := &Details{}
	ids := map[string]uint32{}
	id := func(label string) uint32 {
		if n, ok := ids[label]; ok {
			return n
		}
		var b chunkstore.ID
		copy(b[:], label)
		m.Blobs = append(m.Blobs, b)
		ids[label] = uint32(len(m.Blobs) - 1)
		return ids[label]
	}
	for i, f := range files {
		f.Piece, f.Pieces = len(d.Stream), 2
		d.Stream = append(d.Stream, id("header "+f.Path+" "+name), id(bodies[i]))
		d.Files = append(d.Files, f)
	}
	m.SetDetails(d)
	return m
}

// Issue 19: the diff of two snapshots is manifest's, below the CLI.
func TestCompare(t *testing.T) {
	a := snapshotOf("a", []File{
		{Path: "same", Type: "file", Size: 3, Mode: 0o644},
		{Path: "edited", Type: "file", Size: 3, Mode: 0o644},
		{Path: "chmod", Type: "file", Size: 3, Mode: 0o644},
		{Path: "gone", Type: "file", Size: 5},
		{Path: "link", Type: "symlink", Link: "x"},
	}, []string{"s", "e1", "c", "g", ""})
	b := snapshotOf("b", []File{
		{Path: "same", Type: "file", Size: 3, Mode: 0o644},
		{Path: "edited", Type: "file", Size: 3, Mode: 0o644},
		{Path: "chmod", Type: "file", Size: 3, Mode: 0o600},
		{Path: "new", Type: "file", Size: 7},
		{Path: "link", Type: "symlink", Link: "y"},
	}, []string{"s", "e2", "c", "n", ""})
	b.AddedBytes = 42

	d, err := Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	paths := func(cs []Change) (out []string) {
		for _, c := range cs {
			out = append(out, c.Path+":"+string(rune('0'+len(c.Changes))))
		}
		return out
	}
	if got := paths(d.Added); !slices.Equal(got, []string{"new:0"}) {
		t.Errorf("added %v", got)
	}
	if got := paths(d.Removed); !slices.Equal(got, []string{"gone:0"}) {
		t.Errorf("removed %v", got)
	}
	if got := paths(d.Changed); !slices.Equal(got, []string{"edited:1", "link:1"}) {
		t.Errorf("changed %v", got)
	}
	if d.Changed[0].Changes[0] != "content" || d.Changed[1].Changes[0] != "link" {
		t.Errorf("changes %v", d.Changed)
	}
	if got := paths(d.Metadata); !slices.Equal(got, []string{"chmod:1"}) || d.MetadataCount != 1 || d.Metadata[0].Changes[0] != "mode" {
		t.Errorf("metadata %v (%d)", d.Metadata, d.MetadataCount)
	}
	if d.SizeDelta != 2 || d.AddedBytes != 42 || d.A != "a" || d.B != "b" {
		t.Errorf("totals %+v", d)
	}
}
