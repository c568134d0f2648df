package export_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketsnap/pocketsnap/export"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// Issue 18.19: export's progress has a total, and it is exactly what the
// export copies: the stored frames of the snapshot's stream.
func TestExportProgressTotal(t *testing.T) {
	src := t.TempDir()
	if err := testtree.Generate(src, 3); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "twice-a"), make([]byte, 300<<10), 0o644)
	os.WriteFile(filepath.Join(src, "twice-b"), make([]byte, 300<<10), 0o644) // repeated blobs count each time
	r := repotest.New(t, false)
	res := r.Backup(t, "db", src, nil)
	s := r.Open(t, true)
	m := r.Load(t, res.Manifest.Name)
	total := export.FrameBytes(s, m)
	fr := pipeline.NewFrameReader(context.Background(), s, m)
	defer fr.Close()
	n, err := io.Copy(io.Discard, fr)
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || total != n {
		t.Errorf("progress total %d, the export copies %d bytes", total, n)
	}
}
