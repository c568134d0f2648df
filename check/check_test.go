package check_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketsnap/pocketsnap/check"
	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// backedUp returns a repository holding one snapshot of a small tree,
// and the paths of its packs.
func backedUp(t *testing.T) (*repotest.Repo, []string) {
	t.Helper()
	src := t.TempDir()
	for i, s := range []string{"alpha", "beta", "gamma"} {
		if err := os.WriteFile(filepath.Join(src, s), []byte(s+string(rune('0'+i))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := repotest.New(t, false)
	r.Backup(t, "rootfs", src, nil)
	packs, err := filepath.Glob(filepath.Join(r.Dir, "data", "*", "*"))
	if err != nil || len(packs) == 0 {
		t.Fatalf("no packs (%v)", err)
	}
	return r, packs
}

func TestRunClean(t *testing.T) {
	r, _ := backedUp(t)
	var total int64
	res, err := check.Run(context.Background(), r.Open(t, true), check.Options{
		ReadData: true, Decrypt: true,
		Progress: func(n int64) *pipeline.Progress { total = n; return new(pipeline.Progress) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Snapshots != 1 || res.Packs == 0 || !res.BlobsDecrypted {
		t.Fatalf("result %+v", res)
	}
	if total == 0 || res.BytesRead != total {
		t.Errorf("read %d of %d bytes", res.BytesRead, total)
	}
}

// Each problem names the pack at fault and the snapshot that needs it.
func TestRunNamesProblems(t *testing.T) {
	r, packs := backedUp(t)
	b, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(packs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := r.Open(t, false)
	res, err := check.Run(context.Background(), s, check.Options{})
	if err != nil || !res.OK() {
		t.Fatalf("references only: %v %+v", err, res)
	}
	res, err = check.Run(context.Background(), s, check.Options{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 {
		t.Fatalf("problems %v", res.Problems)
	}
	p := res.Problems[0]
	var pe *chunkstore.PackError
	if !errors.As(p, &pe) || filepath.Base(packs[0]) != pe.Pack.String() || !errors.Is(p, chunkstore.ErrCorrupt) {
		t.Errorf("problem %v does not name pack %s as corrupt", p, filepath.Base(packs[0]))
	}
	if len(p.Snapshots) != 1 {
		t.Errorf("problem names snapshots %v", p.Snapshots)
	}

	if err := os.Remove(packs[0]); err != nil {
		t.Fatal(err)
	}
	res, err = check.Run(context.Background(), s, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || !errors.Is(res.Problems[0], chunkstore.ErrMissing) {
		t.Fatalf("missing pack: problems %v", res.Problems)
	}
}
