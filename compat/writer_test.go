package compat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
)

// ageSealer seals to one recipient, as a repository's codec does.
type ageSealer struct{ r age.Recipient }

func (s ageSealer) Seal(w io.Writer) (io.WriteCloser, error) { return age.Encrypt(w, s.r) }

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed)}).Read(b)
	return b
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// write writes data through a Writer in uneven pieces and commits it.
func write(t *testing.T, dir, name string, data []byte, opt Options) *Written {
	t.Helper()
	w, err := NewWriter(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+len(rest)%7919)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	res, err := w.Commit(name)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriterSingleFile(t *testing.T) {
	dir := t.TempDir()
	data := randomBytes(100_000, 1)
	res := write(t, dir, "db-20261129T040000Z.tar.zst", data, Options{PartSize: 100_000})
	if got := dirNames(t, dir); strings.Join(got, " ") != "db-20261129T040000Z.tar.zst db-20261129T040000Z.tar.zst.sha256" {
		t.Fatalf("files: %v", got)
	}
	got, _ := os.ReadFile(res.Path)
	if !bytes.Equal(got, data) || res.Size != int64(len(data)) || res.SHA256 != hexSum(data) {
		t.Fatal("archive differs from what was written")
	}
	side, _ := os.ReadFile(res.Sidecar)
	if want := hexSum(data) + "  db-20261129T040000Z.tar.zst\n"; string(side) != want {
		t.Fatalf("sidecar %q, want %q", side, want)
	}
}

func TestWriterParts(t *testing.T) {
	dir := t.TempDir()
	data := randomBytes(250_001, 2)
	const limit = 100_000
	res := write(t, dir, "x.tar.zst", data, Options{PartSize: limit})
	if len(res.Files) != 3 {
		t.Fatalf("%d parts, want 3", len(res.Files))
	}
	var joined []byte
	var wantSide strings.Builder
	for i, p := range res.Files {
		if p != PartPath(filepath.Join(dir, "x.tar.zst"), i) {
			t.Fatalf("part %d is %s", i, p)
		}
		b, _ := os.ReadFile(p)
		if len(b) > limit {
			t.Fatalf("part %s has %d bytes, over the limit %d", p, len(b), limit)
		}
		joined = append(joined, b...)
		wantSide.WriteString(hexSum(b) + "  " + filepath.Base(p) + "\n")
	}
	wantSide.WriteString(hexSum(data) + "  x.tar.zst\n")
	if !bytes.Equal(joined, data) {
		t.Fatal("parts do not reassemble into the archive")
	}
	if _, err := os.Stat(res.Path); !os.IsNotExist(err) {
		t.Fatal("a split archive also exists whole")
	}
	if side, _ := os.ReadFile(res.Sidecar); string(side) != wantSide.String() {
		t.Fatalf("sidecar:\n%s\nwant:\n%s", side, wantSide.String())
	}
}

func TestWriterExactlyOnePart(t *testing.T) {
	dir := t.TempDir()
	res := write(t, dir, "a.tar.zst", randomBytes(4096, 3), Options{PartSize: 4096})
	if len(res.Files) != 1 || res.Files[0] != res.Path {
		t.Fatalf("an archive of exactly the part size was split: %v", res.Files)
	}
	res = write(t, dir, "b.tar.zst", nil, Options{})
	if fi, err := os.Stat(res.Path); err != nil || fi.Size() != 0 {
		t.Fatalf("empty archive: %v", err)
	}
}

func TestWriterTooManyParts(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, Options{PartSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, maxParts+1))
	if _, err := w.Commit("x.tar.zst"); err == nil || !strings.Contains(err.Error(), "use a larger part size") {
		t.Fatalf("err = %v", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Fatalf("failed archive left %d files", len(names))
	}
}

func TestWriterEncrypts(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	data := randomBytes(300_000, 4)
	res := write(t, dir, "x.tar.zst.age", data, Options{PartSize: 64 << 10, Seal: ageSealer{id.Recipient()}})
	var stored []byte
	for _, p := range res.Files {
		b, _ := os.ReadFile(p)
		stored = append(stored, b...)
	}
	if hexSum(stored) != res.SHA256 {
		t.Fatal("sidecar digest is not of the stored (encrypted) bytes")
	}
	r, err := age.Decrypt(bytes.NewReader(stored), id)
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(r); !bytes.Equal(plain, data) {
		t.Fatal("decrypted archive differs")
	}
	// Issue 18.9: the sidecar of the decrypted archive, for sha256sum -c
	// after age -d.
	b, err := os.ReadFile(filepath.Join(dir, "x.tar.zst.sha256"))
	if want := hexSum(data) + "  x.tar.zst\n"; err != nil || string(b) != want || res.PlainSidecar != filepath.Join(dir, "x.tar.zst.sha256") {
		t.Fatalf("plaintext sidecar %s = %q, %v; want %q", res.PlainSidecar, b, err, want)
	}

	// The plaintext archive of the same data shares that sidecar; other
	// data under the same name does not replace it, and leaves nothing.
	write(t, dir, "x.tar.zst", data, Options{})
	if b2, _ := os.ReadFile(filepath.Join(dir, "x.tar.zst.sha256")); !bytes.Equal(b2, b) {
		t.Fatalf("the plaintext archive changed the shared sidecar: %q", b2)
	}
	os.Remove(filepath.Join(dir, "x.tar.zst"))
	before := dirNames(t, dir)
	w, _ := NewWriter(dir, Options{})
	w.Write([]byte("other data"))
	if _, err := w.Commit("x.tar.zst"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("commit of other data over the shared sidecar: err = %v", err)
	}
	if after := dirNames(t, dir); !slices.Equal(before, after) {
		t.Fatalf("failed commit changed the directory: %v, then %v", before, after)
	}
}

func TestWriterNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "x.tar.zst", randomBytes(300, 5), Options{PartSize: 100})
	for _, name := range []string{"x.tar.zst", "x.tar.zst.part-000", "x.tar.zst.sha256"} {
		if name != "x.tar.zst" {
			os.Rename(filepath.Join(dir, name), filepath.Join(dir, "keep"))
			os.WriteFile(filepath.Join(dir, name), nil, 0o600)
		}
		w, _ := NewWriter(dir, Options{})
		w.Write([]byte("new"))
		if _, err := w.Commit("x.tar.zst"); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("commit over %s: err = %v", name, err)
		}
	}
	for _, n := range dirNames(t, dir) {
		if strings.HasPrefix(n, TempPrefix) {
			t.Fatalf("failed commit left %s", n)
		}
	}
}

func TestWriterAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, Options{PartSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(randomBytes(95, 6))
	w.Abort()
	if _, err := w.Commit("x.tar.zst"); err == nil {
		t.Fatal("commit after abort succeeded")
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Fatalf("abort left %v", names)
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	live, err := NewWriter(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	live.Write([]byte("in progress"))
	// A killed writer's file: unlocked.
	stale := filepath.Join(dir, TempPrefix+"123")
	os.WriteFile(stale, []byte("left behind"), 0o600)
	other := filepath.Join(dir, "notes.tmp-1")
	os.WriteFile(other, nil, 0o600)

	removed, err := RemoveStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != stale {
		t.Fatalf("removed %v, want only %s", removed, stale)
	}
	if _, err := live.Commit("x.tar.zst"); err != nil {
		t.Fatalf("live writer lost its file: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal("removed a file that is not a writer's")
	}
}
