package compat

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestListGroupsCompanions(t *testing.T) {
	dir := t.TempDir()
	files := []string{
		"db-20261129T040000Z.tar.zst", "db-20261129T040000Z.tar.zst.sha256",
		"db-20261128T040000Z.tar.zst.age", "db-20261128T040000Z.tar.zst.age.sha256", "db-20261128T040000Z.tar.zst.sha256",
		"db-20261130T040000Z.tar.zst.age.part-000", "db-20261130T040000Z.tar.zst.age.part-001", "db-20261130T040000Z.tar.zst.age.sha256",
		// not archives of kind db:
		"db-20261130T040000Z.tar.gz", "db-2026.tar.zst", "dbx-20261130T040000Z.tar.zst", "rootfs-20261130T040000Z.tar.zst",
		"db-20261130T040000Z.tar.zst.part-1", "db-20261199T040000Z.tar.zst", TempPrefix + "42", "notes.txt",
	}
	for _, f := range files {
		os.WriteFile(filepath.Join(dir, f), nil, 0o600)
	}
	os.Mkdir(filepath.Join(dir, "db-20261201T040000Z.tar.zst"), 0o700)
	got, err := List(dir, "db")
	if err != nil {
		t.Fatal(err)
	}
	// In the order to remove them: sidecars first.
	want := [][]string{
		{files[3], files[4], files[2]},
		{files[1], files[0]},
		{files[7], files[5], files[6]},
	}
	if len(got) != len(want) {
		t.Fatalf("%d archives, want %d: %+v", len(got), len(want), got)
	}
	for i, a := range got {
		w := slices.Clone(want[i])
		for j := range w {
			w[j] = filepath.Join(dir, w[j])
		}
		if !slices.Equal(a.Files, w) {
			t.Errorf("archive %d %s: files %v, want %v", i, a.Name, a.Files, w)
		}
		if a.Name != filepath.Base(a.Files[0])[:len("db-20261129T040000Z")] || a.Time.IsZero() {
			t.Errorf("archive %d: name %s time %v", i, a.Name, a.Time)
		}
	}
	if l, err := List(filepath.Join(dir, "none"), "db"); err != nil || l != nil {
		t.Fatalf("missing dir: %v %v", l, err)
	}
	if _, err := List(dir, "Bad Kind"); err == nil {
		t.Fatal("invalid kind accepted")
	}
}

func TestPath(t *testing.T) {
	p, err := Path("/b", "rootfs-20261129T040000Z", true)
	if err != nil || p != "/b/rootfs/rootfs-20261129T040000Z.tar.zst.age" {
		t.Fatalf("Path = %q, %v", p, err)
	}
	if _, err := Path("/b", "nonsense", false); err == nil {
		t.Fatal("invalid snapshot name accepted")
	}
}
