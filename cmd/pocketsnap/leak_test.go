package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

// minNeedle is the shortest string searched for: shorter ones (a file
// named "a") turn up by chance in megabytes of ciphertext.
const minNeedle = 6

// needles is a set of byte strings to search for, indexed by their first
// two bytes so that a scan costs about one array lookup per byte.
type needles struct {
	first [1 << 16]bool
	all   map[uint16][]needle
}

type needle struct {
	b    []byte
	what string
}

func (n *needles) add(b []byte, what string) {
	if len(b) < minNeedle {
		return
	}
	if n.all == nil {
		n.all = map[uint16][]needle{}
	}
	k := binary.LittleEndian.Uint16(b)
	n.first[k] = true
	n.all[k] = append(n.all[k], needle{bytes.Clone(b), what})
}

// find returns what the first needle found in data is.
func (n *needles) find(data []byte) (string, bool) {
	for i := 0; i+minNeedle <= len(data); i++ {
		k := binary.LittleEndian.Uint16(data[i:])
		if !n.first[k] {
			continue
		}
		for _, nd := range n.all[k] {
			if bytes.HasPrefix(data[i:], nd.b) {
				return nd.what, true
			}
		}
	}
	return "", false
}

// sourceNeedles are the source's names, paths, link targets and the
// SHA-256 of every file's content, in every encoding a format might use.
func sourceNeedles(t *testing.T, src string) *needles {
	t.Helper()
	n := &needles{}
	n.add([]byte(src), "the source path")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		n.add([]byte(d.Name()), "name "+d.Name())
		n.add([]byte(rel), "path "+rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			n.add([]byte(target), "link target of "+rel)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil || len(b) == 0 {
				return err
			}
			sum := sha256.Sum256(b)
			for _, enc := range [][]byte{sum[:], []byte(hex.EncodeToString(sum[:])), []byte(strings.ToUpper(hex.EncodeToString(sum[:]))),
				[]byte(base64.StdEncoding.EncodeToString(sum[:])), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))} {
				n.add(enc, "SHA-256 of "+rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// blobSizeNeedles are the device index's records of where each blob lies
// and how large it is (offset, length, raw length, as the index and the
// pack trailers store them): no stored object may hold them in plaintext.
func blobSizeNeedles(t *testing.T, n *needles, repo string) {
	t.Helper()
	s, err := chunkstore.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ix, err := s.Index()
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, p := range ix.Packs() {
		for _, b := range p.Blobs {
			var rec []byte
			for _, v := range []uint32{b.Offset, b.Length, b.RawLength} {
				rec = binary.LittleEndian.AppendUint32(rec, v)
			}
			n.add(rec, "location and size of blob "+b.ID.Short())
			count++
		}
	}
	if count < 50 {
		t.Fatalf("only %d blobs indexed", count)
	}
}

// Acceptance (issue 10): no file name, path, link target or content
// digest of the source, and no blob's size, appears in any object of the
// repository or in any object's name, outside local/ (which never leaves
// the device).
func TestRepositoryLeaksNoNamesDigestsOrBlobSizes(t *testing.T) {
	v := newVictim(t)
	n := sourceNeedles(t, v.src)
	blobSizeNeedles(t, n, v.repo)
	// The scan finds what is there: the index itself, local/ only.
	index, err := os.ReadFile(filepath.Join(v.repo, "local", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.find(index); !ok {
		t.Fatal("the scan does not find the blob sizes in local/index")
	}

	scanned := 0
	err = filepath.WalkDir(v.repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(v.repo, p)
		if rel == "local" {
			return filepath.SkipDir
		}
		if what, ok := n.find([]byte(rel)); ok {
			t.Errorf("object name %s reveals the %s", rel, what)
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if what, ok := n.find(b); ok {
			t.Errorf("object %s reveals the %s", rel, what)
		}
		scanned += len(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 1<<20 {
		t.Fatalf("scanned only %d bytes", scanned)
	}
}

// Acceptance (issue 10): with PACK_PADDING=padme every stored pack is a
// Padmé length, and the snapshot restores.
func TestPackPaddingPadme(t *testing.T) {
	c := newCLI(t).with("PACK_PADDING=padme")
	src := filepath.Join(c.dir, "src")
	os.MkdirAll(src, 0o755)
	if err := testtree.Generate(src, 43); err != nil {
		t.Fatal(err)
	}
	c.mustRun("backup", "files", "--source", src)
	packs, _ := filepath.Glob(filepath.Join(c.dir, "data", "backups", "repo", "data", "*", "*"))
	if len(packs) < 3 {
		t.Fatalf("only %d packs", len(packs))
	}
	for _, p := range packs {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := fi.Size(); chunkstore.Padme(n) != n {
			t.Errorf("pack %s has %d bytes, not a Padmé length", filepath.Base(p), n)
		}
	}
	target := filepath.Join(c.dir, "restored")
	c.mustRun("restore", c.snapshots()[0], "--target", target)
	if err := testtree.Compare(src, target, testtree.Options{IgnoreOwner: os.Geteuid() != 0}); err != nil {
		t.Fatal(err)
	}

	code, out := c.with("PACK_PADDING=pad").run("backup", "files", "--source", src)
	if code != exitError || !strings.Contains(out, `PACK_PADDING (environment): unknown padding "pad"`) {
		t.Errorf("a bad PACK_PADDING: exit %d:\n%s", code, out)
	}
}
