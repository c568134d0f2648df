package pipeline_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

func readEntries(t *testing.T, r *repotest.Repo, m *manifest.Manifest, entries []pipeline.Entry) ([]byte, error) {
	t.Helper()
	sr, err := pipeline.NewEntryReader(context.Background(), r.Open(t, true), m, entries)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	return io.ReadAll(sr)
}

// Every entry read on its own is its span of the stream, and renaming it
// to its own name gives the same bytes: headers are rewritten as Backup
// writes them.
func TestEntryReaderIsTheStream(t *testing.T) {
	src := t.TempDir()
	if err := testtree.Generate(src, 2); err != nil {
		t.Fatal(err)
	}
	r := repotest.New(t, true)
	m := r.Load(t, r.Backup(t, "tree", src, nil).Manifest.Name)
	stream := r.Stream(t, m.Name)
	files := repotest.Files(t, m)
	all := make([]pipeline.Entry, len(files))
	for i, f := range files {
		all[i] = pipeline.Entry{File: i}
		end := int64(len(stream)) - 1024
		if i+1 < len(files) {
			end = files[i+1].Offset
		}
		got, err := readEntries(t, r, m, []pipeline.Entry{{File: i, Name: f.Path, Link: f.Link}})
		if err != nil {
			t.Fatalf("entry %q: %v", f.Path, err)
		}
		if !bytes.Equal(got, stream[f.Offset:end]) {
			t.Fatalf("entry %q renamed to itself: %d bytes differ from its %d in the stream", f.Path, len(got), end-f.Offset)
		}
	}
	got, err := readEntries(t, r, m, all)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, stream[:len(stream)-1024]) {
		t.Fatal("all entries are not the stream without its end marker")
	}
}

// A renamed entry keeps its attributes and extended attributes and loses
// its old name entirely.
func TestEntryReaderRenames(t *testing.T) {
	src := t.TempDir()
	p := filepath.Join(src, strings.Repeat("long-name-", 12)) // a PAX path record
	if err := os.WriteFile(p, []byte("content\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	xattr := unix.Setxattr(p, "user.pocketsnap", []byte("kept"), 0) == nil
	r := repotest.New(t, false)
	m := r.Load(t, r.Backup(t, "tree", src, nil).Manifest.Name)
	got, err := readEntries(t, r, m, []pipeline.Entry{{File: 1, Name: "short"}})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(got))
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(tr)
	if h.Name != "short" || h.Mode != 0o640 || h.Typeflag != tar.TypeReg || string(body) != "content\n" {
		t.Fatalf("renamed entry: %q mode %o type %c body %q", h.Name, h.Mode, h.Typeflag, body)
	}
	if _, ok := h.PAXRecords["path"]; ok {
		t.Errorf("renamed entry keeps its old path record: %v", h.PAXRecords)
	}
	if xattr && h.PAXRecords["SCHILY.xattr.user.pocketsnap"] != "kept" {
		t.Errorf("renamed entry lost its xattr: %v", h.PAXRecords)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("after the entry: %v, want io.EOF", err)
	}
}

// The file index locates entries; one that does not match the stream is
// a verification failure, not a wrong file.
func TestEntryReaderChecksTheFileIndex(t *testing.T) {
	src := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(src, n), []byte("file "+n+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := repotest.New(t, false)
	m := r.Load(t, r.Backup(t, "tree", src, nil).Manifest.Name)
	good, goodFiles := m.Details(), repotest.Files(t, m)
	for _, tc := range []struct {
		what  string
		alter func(f []manifest.File)
		want  string
	}{
		{"entry points at another's pieces", func(f []manifest.File) { f[1].Piece = f[2].Piece }, `header of entry "a" names "b"`},
		// "a" is a 1536-byte header (with PAX records) and a 512-byte body.
		{"entry's length is wrong", func(f []manifest.File) { f[2].Offset += 512 }, `entry "a" is 2048 bytes, the file index says 2560`},
		{"entry has a piece too few", func(f []manifest.File) { f[1].Pieces = 1 }, `entry "a" is 1536 bytes, the file index says 2048`},
	} {
		d := *good
		d.Files = slices.Clone(goodFiles)
		tc.alter(d.Files)
		m.SetDetails(&d)
		_, err := readEntries(t, r, m, []pipeline.Entry{{File: 1}})
		if !errors.Is(err, pipeline.ErrVerify) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), m.Name) {
			t.Errorf("%s: %v, want verification failure %q", tc.what, err, tc.want)
		}
	}
	m.SetDetails(good)
	if _, err := pipeline.NewEntryReader(context.Background(), r.Open(t, true), m, []pipeline.Entry{{File: 4}}); err == nil {
		t.Error("entry beyond the file index accepted")
	}
}
