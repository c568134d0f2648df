package pipeline_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// Issue 20.1: the workers read small files' bodies, the producer only
// opens them. A file that shrinks or grows between the walk's look at it
// and its reading still fills exactly its header's size in the stream
// (zero-filled, or cut) with a warning naming it, the snapshot is
// incomplete, every other file is read whole, and the files cache
// remembers the files read clean: a second backup reads none of them.
func TestSmallFilesReadByWorkers(t *testing.T) {
	src := t.TempDir()
	want := map[string][]byte{}
	for i, name := range []string{"a.txt", "grow.txt", "shrink.txt", "d/e.txt", "d/f.bin"} {
		want[name] = randomFile(t, filepath.Join(src, name), 10<<10+i*777, uint64(i+1))
	}
	pipeline.SetTestHookOpen(t, func(rel string) {
		p := filepath.Join(src, rel)
		switch rel {
		case "shrink.txt":
			if err := os.Truncate(p, 3000); err != nil {
				t.Error(err)
			}
		case "grow.txt":
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.Write(bytes.Repeat([]byte("x"), 5000))
			f.Close()
		}
	})
	var warnings strings.Builder
	r := repotest.New(t, false)
	res := r.Backup(t, "tree", src, func(o *pipeline.Options) {
		o.Warn = func(path string, err error) { warnings.WriteString(path + ": " + err.Error() + "\n") }
	})
	warned := warnings.String()
	if !res.Manifest.Incomplete || !strings.Contains(warned, "shrink.txt: file shrank while being read") ||
		!strings.Contains(warned, "grow.txt: file changed size while being read") || strings.Count(warned, "\n") != 2 {
		t.Fatalf("incomplete %v, warnings:\n%s", res.Manifest.Incomplete, warned)
	}
	shrunk := append(bytes.Clone(want["shrink.txt"][:3000]), make([]byte, len(want["shrink.txt"])-3000)...)
	want["shrink.txt"] = shrunk
	got := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(r.Stream(t, res.Manifest.Name)))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			got[strings.TrimPrefix(h.Name, "./")] = b
		}
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s: %d bytes in the stream, want %d as read", name, len(got[name]), len(b))
		}
	}

	pipeline.SetTestHookOpen(t, nil)
	again := r.Backup(t, "tree", src, nil)
	if c := again.Details.Counts; c.FilesCached != 3 || again.Manifest.Incomplete {
		t.Errorf("second backup: %d files from the files cache, want the 3 read clean (incomplete %v)", c.FilesCached, again.Manifest.Incomplete)
	}
}
