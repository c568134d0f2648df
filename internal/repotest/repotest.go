// Package repotest sets up repositories for tests: a fresh repository with
// its age identity, backups through the real pipeline, and the plaintext
// stream of a snapshot.
package repotest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// Repo is a repository in a temporary directory.
type Repo struct {
	Dir       string
	Identity  *age.X25519Identity
	Recipient string
}

// New creates a repository, encrypted to a fresh identity unless plain.
func New(t testing.TB, plain bool) *Repo {
	t.Helper()
	return NewAt(t, t.TempDir(), plain)
}

// NewAt is New in the directory dir, which must not exist or be empty.
func NewAt(t testing.TB, dir string, plain bool) *Repo {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	r := &Repo{Dir: dir, Identity: id, Recipient: id.Recipient().String()}
	var recs []string
	if !plain {
		recs = []string{r.Recipient}
	}
	s, err := chunkstore.Init(r.Dir, recs)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	return r
}

// Open opens the repository; with read set it can also read data back.
func (r *Repo) Open(t testing.TB, read bool) *chunkstore.Store {
	t.Helper()
	s, err := chunkstore.Open(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if read {
		s.SetIdentities([]age.Identity{r.Identity})
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Backup backs up src as kind through a freshly opened store, as separate
// runs of the command would. opt may adjust the options.
func (r *Repo) Backup(t testing.TB, kind, src string, opt func(*pipeline.Options)) *pipeline.Result {
	t.Helper()
	s := r.Open(t, false)
	o := pipeline.Options{Kind: kind, Source: src, Host: "test", Tool: "test"}
	if opt != nil {
		opt(&o)
	}
	res, err := pipeline.Backup(context.Background(), s, o)
	if err != nil {
		t.Fatalf("backup of %s: %v", src, err)
	}
	return res
}

// Load reads a snapshot's manifest with its details opened.
func (r *Repo) Load(t testing.TB, name string) *manifest.Manifest {
	t.Helper()
	s := r.Open(t, true)
	m, err := manifest.Load(s, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(s.Codec()); err != nil {
		t.Fatal(err)
	}
	return m
}

// Stream returns a snapshot's verified tar stream.
func (r *Repo) Stream(t testing.TB, name string) []byte {
	t.Helper()
	s := r.Open(t, true)
	m := r.Load(t, name)
	sr := pipeline.NewStreamReader(context.Background(), s, m)
	defer sr.Close()
	b, err := io.ReadAll(sr)
	if err != nil {
		t.Fatalf("stream of %s: %v", name, err)
	}
	return b
}

// Files returns the file index of a manifest whose details are open.
func Files(t testing.TB, m *manifest.Manifest) []manifest.File {
	t.Helper()
	files, err := m.Files()
	if err != nil {
		t.Fatalf("file index of %s: %v", m.Name, err)
	}
	return files
}

// StreamIDs returns the blob IDs of a manifest's stream, in order.
func StreamIDs(m *manifest.Manifest) []chunkstore.ID {
	ids := make([]chunkstore.ID, 0, m.StreamLen())
	for _, id := range m.StreamIDs() {
		ids = append(ids, id)
	}
	return ids
}

// StreamSHA256 returns the hex SHA-256 of a snapshot's verified tar
// stream: what a version 1 manifest records as its stream digest, and
// what `zstd -d | sha256sum` of its export prints.
func (r *Repo) StreamSHA256(t testing.TB, name string) string {
	t.Helper()
	sum := sha256.Sum256(r.Stream(t, name))
	return hex.EncodeToString(sum[:])
}

// CopyFixture copies the committed repository of a fixture directory (such
// as testdata/repo-v1: its repo/ and the identity.txt it is encrypted to)
// into a temporary directory, where commands may change it.
func CopyFixture(t testing.TB, fixture string) *Repo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if out, err := exec.Command("cp", "-a", filepath.Join(fixture, "repo"), dir).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", fixture, err, out)
	}
	key, err := os.ReadFile(filepath.Join(fixture, "identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(key))
	if err != nil {
		t.Fatal(err)
	}
	id, ok := ids[0].(*age.X25519Identity)
	if !ok {
		t.Fatalf("%s/identity.txt holds no X25519 identity", fixture)
	}
	return &Repo{Dir: dir, Identity: id, Recipient: id.Recipient().String()}
}
