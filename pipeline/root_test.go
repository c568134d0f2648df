package pipeline_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketsnap/pocketsnap/extract"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/restore"
)

// Issue 18.8: a stream rooted at db/ holds every member under db/, while
// its file index stays relative to the source; a full and a partial
// restore unpack db/'s contents into the target, and a snapshot rooted at
// ./ (the older layout) restores as before.
func TestStreamRoot(t *testing.T) {
	src := t.TempDir()
	randomFile(t, filepath.Join(src, "000011.sst"), 5000, 1)
	randomFile(t, filepath.Join(src, "sub", "CURRENT"), 16, 2)
	if err := os.Link(filepath.Join(src, "000011.sst"), filepath.Join(src, "sub", "link.sst")); err != nil {
		t.Fatal(err)
	}
	r := repotest.New(t, false)
	for _, root := range []string{"db", ""} {
		res := r.Backup(t, "db", src, func(o *pipeline.Options) { o.Root = root })
		m := r.Load(t, res.Manifest.Name)
		if got := m.Details().Root; got != root {
			t.Fatalf("root %q recorded as %q", root, got)
		}
		tr := tar.NewReader(bytes.NewReader(r.Stream(t, m.Name)))
		var names []string
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, h.Name)
			if h.Typeflag == tar.TypeLink {
				names = append(names, "->"+h.Linkname)
			}
		}
		want := "[./ 000011.sst sub/ sub/CURRENT sub/link.sst ->000011.sst]"
		if root == "db" {
			want = "[db/ db/000011.sst db/sub/ db/sub/CURRENT db/sub/link.sst ->db/000011.sst]"
		}
		if got := fmt.Sprint(names); got != want {
			t.Errorf("root %q: members %s, want %s", root, got, want)
		}
		var paths []string
		for _, f := range repotest.Files(t, m) {
			paths = append(paths, f.Path+"->"+f.Link)
		}
		if got := fmt.Sprint(paths); got != "[.-> 000011.sst-> sub-> sub/CURRENT-> sub/link.sst->000011.sst]" {
			t.Errorf("root %q: file index %s", root, got)
		}

		s := r.Open(t, true)
		full := filepath.Join(t.TempDir(), "full")
		if _, err := restore.Into(context.Background(), restore.Source{Store: s, Manifest: m}, full, extract.Options{}, io.Discard); err != nil {
			t.Fatalf("root %q: restore: %v", root, err)
		}
		if err := testtree.Compare(src, full, testtree.Options{IgnoreRootDir: true}); err != nil {
			t.Errorf("root %q: restored tree differs: %v", root, err)
		}
		// The second link alone: read from the first path's entry, renamed.
		sel, err := restore.Select(m, []string{"sub/link.sst"})
		if err != nil {
			t.Fatal(err)
		}
		sr, err := sel.Reader(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		part := filepath.Join(t.TempDir(), "part")
		_, err = restore.Into(context.Background(), restore.Source{Stream: sr, Root: m.Details().Root}, part, extract.Options{}, io.Discard)
		sr.Close()
		if err != nil {
			t.Fatalf("root %q: partial restore: %v", root, err)
		}
		got, err := os.ReadFile(filepath.Join(part, "sub", "link.sst"))
		want2, _ := os.ReadFile(filepath.Join(src, "000011.sst"))
		if err != nil || !bytes.Equal(got, want2) {
			t.Errorf("root %q: partial restore of the link: %v", root, err)
		}
	}
}
