package chunkstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"filippo.io/age"
)

// copyFS is the repository in dir as a bucket would hold it: every object
// outside local/, in memory.
func copyFS(t *testing.T, dir string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, "local/") {
			return nil
		}
		b, err := os.ReadFile(p)
		m[filepath.ToSlash(rel)] = &fstest.MapFile{Data: b, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOpenFSReadsWithTheIdentityOnly(t *testing.T) {
	s := gcStore(t)
	ids := writePack(t, s, ClassBody, 1, 2, 3)
	fsys := copyFS(t, s.Dir())

	r, err := OpenFS(fsys, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.ReadOnly() {
		t.Fatal("a store opened on a file system must be read-only")
	}
	if _, err := r.ReadBlob(ids[0], nil); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("read without identity: %v, want ErrNoIdentity", err)
	}

	r, err = OpenFS(fsys, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetIdentities(s.codec.identities)
	readsBack(t, r, ids)
	if _, err := r.NewWriter(); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("NewWriter on a read-only store: %v", err)
	}
	if _, err := r.Lock(true); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("exclusive lock on a read-only store: %v", err)
	}
}

func TestOpenFSWithDeviceKeysAuthenticatesWithoutIdentity(t *testing.T) {
	s := gcStore(t)
	writePack(t, s, ClassBody, 1)
	keys, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenFS(copyFS(t, s.Dir()), keys)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Keys()
	if err != nil || got.MACKey != keys.MACKey {
		t.Fatalf("Keys() = %v, %v; want the device's", got, err)
	}
}

func TestCloneAndAdoptDeduplicateAgainstTheBucket(t *testing.T) {
	s := gcStore(t)
	ids := writePack(t, s, ClassBody, 1, 2)
	src, err := OpenFS(copyFS(t, s.Dir()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.SetIdentities(s.codec.identities)
	ix, err := src.Index()
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	c, err := Clone(dir, src)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Config().ID != s.Config().ID {
		t.Fatal("the clone has another repository ID")
	}
	if fi, err := os.Stat(filepath.Join(dir, KeysName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("device keys: %v, %v", fi, err)
	}
	if err := c.Adopt(ix.Packs()); err != nil {
		t.Fatal(err)
	}
	w, err := c.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	if !w.Has(ids[0]) || !w.Has(ids[1]) {
		t.Fatal("the writer does not deduplicate against adopted packs")
	}
	keys, _ := c.Keys()
	if w.Has(keys.BlobID(blob(9))) {
		t.Fatal("the writer claims a blob nobody stored")
	}
	_ = w.Flush(t.Context())

	_, err = c.ReadBlob(ids[0], nil)
	if !errors.Is(err, ErrRemoteOnly) || !errors.Is(err, ErrMissing) {
		t.Fatalf("reading an adopted blob locally: %v, want ErrRemoteOnly", err)
	}

	// Reopened, the device still knows what the bucket holds; forgetting
	// a pack (deleted in the bucket) ends the deduplication against it.
	c2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	rix, err := c2.RemoteIndex()
	if err != nil || !rix.Has(ids[0]) {
		t.Fatalf("remote index after reopening: %v", err)
	}
	if err := c2.ForgetRemote([]ID{ix.Packs()[0].ID}); err != nil {
		t.Fatal(err)
	}
	w2, err := c2.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Flush(t.Context())
	if w2.Has(ids[0]) {
		t.Fatal("the writer deduplicates against a pack deleted from the bucket")
	}
}

// A config altered by whoever holds a copy of the repository — a
// recipient of their own added, for the device to encrypt to from then
// on — is refused as soon as the secrets are used, on the device and on
// a machine that opens a copy with the identity.
func TestAlteredConfigIsRefused(t *testing.T) {
	s := gcStore(t)
	writePack(t, s, ClassBody, 1)
	attacker, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.Config()
	cfg.Recipients = append(cfg.Recipients, attacker.Recipient().String())
	// Version 2: the parameters' line replaced, the MAC line kept.
	stored, err := os.ReadFile(filepath.Join(s.Dir(), configFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cfg.Params)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, stored[bytes.IndexByte(stored, '\n'):]...)
	if err := os.WriteFile(filepath.Join(s.Dir(), configFile), b, 0o644); err != nil {
		t.Fatal(err)
	}

	device, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer device.Close()
	if _, err := device.Keys(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "config") {
		t.Fatalf("device with an altered config: %v, want a config error", err)
	}

	copyOf, err := OpenFS(copyFS(t, s.Dir()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer copyOf.Close()
	copyOf.SetIdentities(s.codec.identities)
	if err := copyOf.CheckIdentity(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a copy with an altered config: %v, want ErrCorrupt", err)
	}
	keys, _ := s.Keys()
	if _, err := OpenFS(copyFS(t, s.Dir()), keys); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a copy with an altered config, device keys: %v, want ErrCorrupt", err)
	}
}
