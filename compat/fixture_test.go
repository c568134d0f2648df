package compat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
)

// Committed archives must verify and read the same forever: the classic
// archive is a contract with users who never run pocketsnap to restore.
// db-….tar.zst.age was written by `pocketsnap backup db --compat` (to the
// recipient of testdata/identity.txt, a test key), rootfs-….tar.zst by the
// old scripts' `tar --zstd -cf` and `sha256sum`; both hold the same tree.
func TestFixtures(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, stream string
	}{
		{"db-20261130T000009Z.tar.zst.age", "213b3a9f779ff2f72a8ab569cbba09fd356fce6280bc86947e3dc6d667b76e76"},
		{"rootfs-20250101T040000Z.tar.zst", "abc9011be1389c774c20eebc564b24102e1a0b0ea212e8f3c9191df791ec2f5b"},
	} {
		path := filepath.Join("testdata", c.name)
		if rep := mustVerify(t, path, ids...); !rep.Content || rep.Entries != 7 {
			t.Errorf("%s: %+v, want its 7 entries checked", c.name, rep)
		}
		r, err := Open(context.Background(), path, ids)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != c.stream {
			t.Errorf("%s: tar stream SHA-256 %s, want %s", c.name, got, c.stream)
		}
	}
	archives, err := List("testdata", "db")
	if err != nil || len(archives) != 1 || len(archives[0].Files) != 2 {
		t.Fatalf("List(testdata, db) = %+v, %v", archives, err)
	}
}
