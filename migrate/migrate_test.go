package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// Issue 18.13: every snapshot of a plaintext repository lands in the
// encrypted one under its name, with the same stream, time and file
// index, and Verify reads each back.
func TestCopyAndVerify(t *testing.T) {
	old := repotest.New(t, true)
	srcA, srcB := t.TempDir(), t.TempDir()
	if err := errors.Join(testtree.Generate(srcA, 1), testtree.Generate(srcB, 2)); err != nil {
		t.Fatal(err)
	}
	a := old.Backup(t, "db", srcA, nil).Manifest
	b := old.Backup(t, "files", srcB, nil).Manifest

	neu := repotest.New(t, false)
	from, to := old.Open(t, true), neu.Open(t, false)
	var copied []string
	sums, err := Copy(context.Background(), from, to, func(n string) { copied = append(copied, n) })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(copied, " ") != a.Name+" "+b.Name && strings.Join(copied, " ") != b.Name+" "+a.Name {
		t.Errorf("copied %v, want %s %s", copied, a.Name, b.Name)
	}
	if !to.Codec().Encrypted() {
		t.Fatal("the new repository is not encrypted")
	}
	if err := Verify(context.Background(), neu.Open(t, true), sums); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for _, name := range copied {
		was, now := old.Load(t, name), neu.Load(t, name)
		if !bytes.Equal(old.Stream(t, name), neu.Stream(t, name)) {
			t.Errorf("%s: the streams differ", name)
		}
		if !was.Time.Equal(now.Time) || was.Kind != now.Kind || !reflect.DeepEqual(repotest.Files(t, was), repotest.Files(t, now)) || now.FileCount() < 2 || was.Details().StreamSHA256 != now.Details().StreamSHA256 {
			t.Errorf("%s: the manifests differ", name)
		}
		if sums[name] != sha256.Sum256(old.Stream(t, name)) {
			t.Errorf("%s: Copy's sum is not the stream's", name)
		}
	}

	// A sum that differs, or a snapshot that was not copied, fails.
	bad := Sums{a.Name: sums[a.Name], b.Name: sums[a.Name]}
	if err := Verify(context.Background(), neu.Open(t, true), bad); err == nil || !strings.Contains(err.Error(), b.Name+" of ") {
		t.Errorf("Verify with a wrong sum: %v", err)
	}
	if err := Verify(context.Background(), neu.Open(t, true), Sums{a.Name: sums[a.Name]}); err == nil {
		t.Error("Verify passed a repository holding a snapshot that was not copied")
	}
	// Without the identity nothing reads back.
	if err := Verify(context.Background(), neu.Open(t, false), sums); err == nil {
		t.Error("Verify passed without the identity")
	}
	// Copying again into the same repository is refused.
	if _, err := Copy(context.Background(), from, to, nil); err == nil {
		t.Error("a second Copy into the same repository succeeded")
	}
	if names, _ := manifest.Names(to); len(names) != 2 {
		t.Errorf("the new repository holds %d snapshots, want 2", len(names))
	}
}
