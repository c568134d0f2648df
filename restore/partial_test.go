package restore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/restore"
)

// counting counts the blobs read through it and their plaintext bytes,
// independently of what the stream reader reports.
type counting struct {
	s            pipeline.BlobReader
	blobs, bytes atomic.Int64
}

func (c *counting) ReadFrame(id chunkstore.ID, frame, dst []byte) ([]byte, []byte, error) {
	frame, plain, err := c.s.ReadFrame(id, frame, dst)
	if err == nil {
		c.blobs.Add(1)
		c.bytes.Add(int64(len(plain)))
	}
	return frame, plain, err
}

// partialFixture is a generated tree, its snapshot and a full restore of it.
type partialFixture struct {
	repo *repotest.Repo
	s    *chunkstore.Store
	m    *manifest.Manifest
	full string
}

func newPartialFixture(t *testing.T) *partialFixture {
	src := t.TempDir()
	if err := testtree.Generate(src, 5); err != nil {
		t.Fatal(err)
	}
	r := repotest.New(t, false)
	name := r.Backup(t, "tree", src, nil).Manifest.Name
	f := &partialFixture{repo: r, s: r.Open(t, true), m: r.Load(t, name), full: filepath.Join(t.TempDir(), "full")}
	if err := restoreTo(t, r, name, f.full); err != nil {
		t.Fatal(err)
	}
	return f
}

// restore restores patterns into a new directory and returns it with the
// blobs and bytes the store was asked for.
func (f *partialFixture) restore(t *testing.T, patterns ...string) (string, *restore.Selection, *counting) {
	t.Helper()
	sel, err := restore.Select(f.m, patterns)
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{s: f.s}
	sr, err := sel.Reader(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	target := filepath.Join(t.TempDir(), "partial")
	if _, err := restore.Into(context.Background(), restore.Source{Stream: sr, Label: f.m.Name}, target, asRoot, io.Discard); err != nil {
		t.Fatalf("partial restore of %q: %v", patterns, err)
	}
	if blobs, bytes := sr.Fetched(); int64(blobs) != c.blobs.Load() || bytes != c.bytes.Load() {
		t.Errorf("%q: reader reports %d blobs, %d bytes; the store was asked for %d, %d", patterns, blobs, bytes, c.blobs.Load(), c.bytes.Load())
	}
	return target, sel, c
}

// paths lists the paths below dir, "." for dir itself.
func paths(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// Issue 9: restore --include restores exactly the selected entries (and
// the directories above them), identical to the same paths of a full
// restore, from far fewer blobs than the snapshot has.
func TestPartialRestore(t *testing.T) {
	f := newPartialFixture(t)
	total := int64(len(f.m.Details().Stream))
	names := func(ps ...string) []string { return append([]string{"."}, ps...) }
	for _, tc := range []struct {
		what     string
		patterns []string
		want     []string
	}{
		{"file", []string{"docs/hello.txt"}, names("docs", "docs/hello.txt")},
		{"absolute file", []string{"/docs/hello.txt"}, names("docs", "docs/hello.txt")},
		{"directory", []string{"perm/readonly"}, names("perm", "perm/readonly", "perm/readonly/inside.txt")},
		{"glob", []string{"names/*.txt"}, names("names", "names/with spaces.txt", "names/ünïcødé-日本語.txt")},
		{"glob of directories", []string{"nested/a/b/c/*"}, names("nested", "nested/a", "nested/a/b", "nested/a/b/c", "nested/a/b/c/d", "nested/a/b/c/d/deep.txt")},
		{"two", []string{"links/relative", "./special/"}, names("links", "links/relative", "special", "special/fifo")},
		// triple-3's first path, hard/triple-1, is not restored: it becomes a
		// file of its own with the inode's content and attributes.
		{"hardlink", []string{"nested/a/b/triple-3"}, names("nested", "nested/a", "nested/a/b", "nested/a/b/triple-3")},
		// triple-2 takes triple-1's place and triple-3 is linked to it.
		{"hardlinks", []string{"hard/sub", "nested/a/b/triple-3"}, names("hard", "hard/sub", "hard/sub/triple-2", "nested", "nested/a", "nested/a/b", "nested/a/b/triple-3")},
		{"large file", []string{"data/random.bin"}, names("data", "data/random.bin")},
	} {
		t.Run(tc.what, func(t *testing.T) {
			got, sel, c := f.restore(t, tc.patterns...)
			if sel.Whole() {
				t.Fatal("a few paths are the whole snapshot")
			}
			if p := paths(t, got); !slices.Equal(p, tc.want) {
				t.Fatalf("restored %q, want %q", p, tc.want)
			}
			if err := testtree.Compare(f.full, got, testtree.Options{IgnoreOwner: !asRoot.Owners, Subset: true}); err != nil {
				t.Fatalf("differs from the full restore: %v", err)
			}
			if c.blobs.Load()*10 > total || c.bytes.Load()*2 > f.m.StreamSize {
				t.Errorf("fetched %d of %d blobs, %d of %d bytes", c.blobs.Load(), total, c.bytes.Load(), f.m.StreamSize)
			}
		})
	}

	// Counted by hand: the headers of . and docs, hello.txt's header and body.
	_, _, c := f.restore(t, "docs/hello.txt")
	if c.blobs.Load() != 4 {
		t.Errorf("docs/hello.txt: fetched %d blobs, want 4", c.blobs.Load())
	}
}

// The whole snapshot through --include is a full restore, with the whole
// stream's checks.
func TestPartialRestoreOfEverything(t *testing.T) {
	f := newPartialFixture(t)
	for _, pattern := range []string{".", "/", "*"} {
		got, sel, c := f.restore(t, pattern)
		if !sel.Whole() {
			t.Errorf("%q is not the whole snapshot", pattern)
		}
		if c.blobs.Load() != int64(len(f.m.Details().Stream)) || c.bytes.Load() != f.m.StreamSize {
			t.Errorf("%q: fetched %d blobs, %d bytes; the snapshot has %d, %d", pattern, c.blobs.Load(), c.bytes.Load(), len(f.m.Details().Stream), f.m.StreamSize)
		}
		if err := testtree.Compare(f.full, got, testtree.Options{IgnoreOwner: !asRoot.Owners}); err != nil {
			t.Fatalf("%q: differs from the full restore: %v", pattern, err)
		}
	}
}

// Issue 9: a pattern that matches nothing is an error naming it, and so is
// a malformed one; nothing is restored.
func TestSelectErrors(t *testing.T) {
	f := newPartialFixture(t)
	_, err := restore.Select(f.m, []string{"docs/nope", "docs/hello.txt", "zz*"})
	var nm *restore.NoMatchError
	if !errors.As(err, &nm) || nm.Snapshot != f.m.Name {
		t.Fatalf("Select = %v, want a NoMatchError", err)
	}
	for _, want := range []string{`"docs/nope" matches nothing`, `"zz*" matches nothing`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "hello") {
		t.Errorf("error %q names a pattern that matched", err)
	}
	if _, err := restore.Select(f.m, []string{"docs/[a-"}); !errors.Is(err, path.ErrBadPattern) || !strings.Contains(err.Error(), "docs/[a-") {
		t.Errorf("Select of a malformed pattern = %v", err)
	}
}

// A partial restore reads only the packs it needs: with every other pack
// corrupted it still succeeds, and with those it needs corrupted too it
// fails, naming one, and leaves nothing.
func TestPartialRestoreReadsOnlyWhatItNeeds(t *testing.T) {
	f := newPartialFixture(t)
	sel, err := restore.Select(f.m, []string{"docs/hello.txt"})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := f.s.Index()
	if err != nil {
		t.Fatal(err)
	}
	needed := map[chunkstore.ID]bool{}
	files := repotest.Files(t, f.m)
	for _, e := range sel.Entries {
		fi := files[e.File]
		for p := fi.Piece; p < fi.Piece+fi.Pieces; p++ {
			loc, _ := ix.Lookup(f.m.StreamID(p))
			needed[loc.Pack] = true
		}
	}
	packs, err := f.s.ListPacks()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range packs {
		if !needed[p.ID] {
			flip(t, f.repo, p.ID)
		}
	}
	if len(needed) == len(packs) {
		t.Fatalf("hello.txt needs all %d packs", len(packs))
	}
	got, _, _ := f.restore(t, "docs/hello.txt")
	if err := testtree.Compare(f.full, got, testtree.Options{IgnoreOwner: !asRoot.Owners, Subset: true}); err != nil {
		t.Fatal(err)
	}

	for p := range needed {
		flip(t, f.repo, p)
	}
	s := f.repo.Open(t, true) // no pack cached from before
	sr, err := sel.Reader(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	parent := t.TempDir()
	_, err = restore.Into(context.Background(), restore.Source{Stream: sr, Label: f.m.Name}, filepath.Join(parent, "out"), asRoot, io.Discard)
	var be *chunkstore.BlobError
	if !errors.As(err, &be) || !needed[be.Pack] || !errors.Is(err, chunkstore.ErrCorrupt) {
		t.Fatalf("restore with the needed packs corrupted: %v", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("failed restore left %v behind", ents[0].Name())
	}
}

// flip flips a bit in every 4 KiB of a pack, so that every blob in it is
// corrupt.
func flip(t *testing.T, r *repotest.Repo, pack chunkstore.ID) {
	t.Helper()
	p := filepath.Join(r.Dir, "data", pack.String()[:2], pack.String())
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i += 4096 {
		b[i] ^= 0x10
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// wholeSelect is Select as it was before Issue 20's streaming one, over
// the whole file index held as a []File: the reference Select must agree
// with.
func wholeSelect(files []manifest.File, pats []string) []pipeline.Entry {
	at := make(map[string]int, len(files))
	for i, f := range files {
		at[f.Path] = i
	}
	chosen := make([]bool, len(files))
	for i, f := range files {
		for _, p := range pats {
			if ok, _ := path.Match(path.Clean(strings.TrimLeft(p, "/")), f.Path); ok {
				chosen[i] = true
			}
		}
		if p, ok := at[path.Dir(f.Path)]; ok && chosen[p] && f.Path != "." {
			chosen[i] = true
		}
	}
	needed := make([]bool, len(files))
	for i := range files {
		for p, ok := i, chosen[i]; ok && !needed[p]; p, ok = at[path.Dir(files[p].Path)] {
			needed[p] = true
		}
	}
	var out []pipeline.Entry
	restoredAs := map[int]string{}
	for i, f := range files {
		if !needed[i] {
			continue
		}
		e := pipeline.Entry{File: i}
		if first, ok := at[f.Link]; f.Type == "hardlink" && ok && !needed[first] {
			if as, done := restoredAs[first]; done {
				e.Link = as
			} else {
				e = pipeline.Entry{File: first, Name: f.Path}
				restoredAs[first] = f.Path
			}
		}
		out = append(out, e)
	}
	return out
}

// Issue 20 (peak RSS, partial restore): Select, which walks the file
// index without holding it, chooses exactly what the whole-index Select
// chose: for every entry's path, globs, the root, and hardlinks whose
// first path is or is not selected, on a generated tree and on an index
// of many hardlinks to files in other directories.
func TestSelectIsTheWholeIndexSelect(t *testing.T) {
	f := newPartialFixture(t)
	links := &manifest.Manifest{Name: "links"}
	var lf []manifest.File
	lf = append(lf, manifest.File{Path: ".", Type: "dir", Pieces: 1})
	for d := range 4 {
		lf = append(lf, manifest.File{Path: fmt.Sprintf("d%d", d), Type: "dir", Pieces: 1})
		for i := range 5 {
			p := fmt.Sprintf("d%d/f%d", d, i)
			lf = append(lf, manifest.File{Path: p, Type: "file", Pieces: 2})
			if d > 0 {
				lf = append(lf, manifest.File{Path: fmt.Sprintf("d%d/l%d", d, i), Type: "hardlink", Link: fmt.Sprintf("d%d/f%d", d-1, i), Pieces: 1})
			}
			if d == 3 { // a second link to d0's file, besides d1's
				lf = append(lf, manifest.File{Path: fmt.Sprintf("d%d/m%d", d, i), Type: "hardlink", Link: fmt.Sprintf("d0/f%d", i), Pieces: 1})
			}
		}
	}
	links.SetDetails(&manifest.Details{Files: lf})
	for _, m := range []*manifest.Manifest{f.m, links} {
		files := repotest.Files(t, m)
		pats := [][]string{{"."}, {"/"}, {"*"}, {"*/*"}, {"d1/l*", "d3"}, {"d2/l3"}, {"d0/f1", "d1/l1", "d2/l1"}, {"d1/l1", "d3/m1"}, {"d3/m2", "d1/l2"}}
		for i, file := range files {
			pats = append(pats, []string{file.Path})
			if i%5 == 0 && i+3 < len(files) {
				pats = append(pats, []string{"/" + file.Path + "/", files[i+3].Path})
			}
		}
		tested := 0
		for _, p := range pats {
			want := wholeSelect(files, p)
			sel, err := restore.Select(m, p)
			if len(want) == 0 {
				var nm *restore.NoMatchError
				if !errors.As(err, &nm) {
					t.Errorf("%s %q: %v, want a NoMatchError", m.Name, p, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s %q: %v", m.Name, p, err)
			}
			if !slices.Equal(sel.Entries, want) {
				t.Fatalf("%s %q: selected\n%+v\nwant\n%+v", m.Name, p, sel.Entries, want)
			}
			tested++
		}
		if tested < len(files) {
			t.Fatalf("%s: only %d of %d patterns selected anything", m.Name, tested, len(pats))
		}
	}
}
