package check_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// Issue 17.8: every file of the repository is covered by some check. A
// damaged keys/secrets.age is found: cut short or lengthened with the
// recipient alone, altered with the identity; without it, check says
// that its contents were not verified rather than pass them.
func TestRunChecksSecrets(t *testing.T) {
	r, _ := backedUp(t)
	secrets := filepath.Join(r.Dir, "keys", "secrets.age")
	orig, err := os.ReadFile(secrets)
	if err != nil {
		t.Fatal(err)
	}
	run := func(decrypt bool) *check.Result {
		t.Helper()
		res, err := check.Run(context.Background(), r.Open(t, decrypt), check.Options{Decrypt: decrypt})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	secretsProblem := func(res *check.Result, want string) {
		t.Helper()
		for _, p := range res.Problems {
			if errors.Is(p, check.ErrSecrets) && strings.Contains(p.Error(), want) {
				return
			}
		}
		t.Errorf("no problem with keys/secrets.age saying %q: %v", want, res.Problems)
	}
	if res := run(false); !res.OK() || len(res.Unverified) != 1 || !strings.HasPrefix(res.Unverified[0], "keys/secrets.age") {
		t.Fatalf("intact, no identity: %+v", res)
	}
	if res := run(true); !res.OK() || len(res.Unverified) != 0 {
		t.Fatalf("intact, identity: %+v", res)
	}
	for _, tc := range []struct {
		name   string
		damage []byte
		want   string
	}{
		{"cut short", orig[:len(orig)-3], "cut short, or bytes appended"},
		{"appended", append(slices.Clone(orig), 0), "cut short, or bytes appended"},
		{"not age", append([]byte("garbage\n"), orig...), "not an age file"},
	} {
		if err := os.WriteFile(secrets, tc.damage, 0o600); err != nil {
			t.Fatal(err)
		}
		secretsProblem(run(false), tc.want)
	}
	altered := slices.Clone(orig)
	altered[len(altered)-5] ^= 1
	if err := os.WriteFile(secrets, altered, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := run(false); !res.OK() || len(res.Unverified) != 1 {
		t.Errorf("altered, no identity: want no problem but the contents unverified: %+v", res)
	}
	secretsProblem(run(true), "keys/secrets.age")

	// The device's own copy of the keys: the config does not authenticate.
	if err := os.WriteFile(secrets, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(r.Dir, "local", "keys")
	b, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"mac_key":"`)) + len(`"mac_key":"`)
	if b[i] == '0' {
		b[i] = '1'
	} else {
		b[i] = '0'
	}
	if err := os.WriteFile(local, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := run(false); res.OK() {
		t.Errorf("a damaged local/keys passes")
	}
}

// Issue 20: a version 2 manifest's set object, missing or altered, is a
// problem that names it; the snapshot is reported as damaged.
func TestRunNamesADamagedSetObject(t *testing.T) {
	r, _ := backedUp(t)
	sets, err := filepath.Glob(filepath.Join(r.Dir, "sets", "*"))
	if err != nil || len(sets) != 1 {
		t.Fatalf("set objects %v (%v), want one", sets, err)
	}
	name := "sets/" + filepath.Base(sets[0])
	b, err := os.ReadFile(sets[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, damage := range []func(){
		func() { os.WriteFile(sets[0], append(b, 0), 0o600) },
		func() { os.Remove(sets[0]) },
	} {
		damage()
		res, err := check.Run(context.Background(), r.Open(t, true), check.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Error(), name) {
			t.Fatalf("problems %v, want one naming %s", res.Problems, name)
		}
	}
}

// Issue 19.4: --read-data-subset N% is check's to measure: ReadPercent
// re-reads a random subset of at most that share of the packs' bytes, at
// least one pack, and 100% reads them all.
func TestRunReadPercent(t *testing.T) {
	r := repotest.New(t, false)
	for i := range 4 {
		src := t.TempDir()
		if err := os.WriteFile(filepath.Join(src, "f"), bytes.Repeat([]byte{byte('a' + i)}, 1<<10*(i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		r.Backup(t, "rootfs", src, nil)
	}
	s := r.Open(t, true)
	packs, err := s.ListPacks()
	if err != nil || len(packs) < 4 {
		t.Fatalf("%d packs (%v), want one per backup", len(packs), err)
	}
	var total int64
	for _, p := range packs {
		total += p.Size
	}
	for _, pct := range []float64{0.001, 60, 100} {
		res, err := check.Run(t.Context(), s, check.Options{ReadData: true, ReadPercent: pct})
		if err != nil || !res.OK() {
			t.Fatalf("%v%%: %+v, %v", pct, res, err)
		}
		switch {
		case pct == 100 && (res.PacksRead != len(packs) || res.BytesRead != total):
			t.Errorf("100%%: read %d packs, %d bytes; want all %d, %d bytes", res.PacksRead, res.BytesRead, len(packs), total)
		case pct < 1 && res.PacksRead != 1:
			t.Errorf("%v%%: read %d packs, want exactly one", pct, res.PacksRead)
		case pct == 60 && (res.PacksRead == 0 || res.PacksRead > 1 && float64(res.BytesRead) > float64(total)*0.6):
			t.Errorf("60%%: read %d packs, %d of %d bytes", res.PacksRead, res.BytesRead, total)
		}
	}
}
