package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// hostileEntry is one entry of a crafted archive; body longer than size
// is cut, size larger than body makes the data run short.
type hostileEntry struct {
	name, link string
	typ        byte
	size       int64
	body       string
}

// writeClassic writes a .tar.zst of entries and its sha256sum sidecar
// (the sidecar is honest: the archive is what it says, only hostile).
func writeClassic(t *testing.T, path string, entries []hostileEntry) {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: e.size, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg && e.size == 0 {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Flush() // no Close: a truncated entry must stay truncated
	enc, _ := zstd.NewWriter(nil)
	data := enc.EncodeAll(tb.Bytes(), nil)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sidecar := hex.EncodeToString(sum[:]) + "  " + filepath.Base(path) + "\n"
	if err := os.WriteFile(path+".sha256", []byte(sidecar), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Acceptance (system restore): a malicious-archive corpus; each restore
// fails naming the entry, writes nothing outside the staging directory
// (a sentinel directory beside it stays empty) and leaves no target.
func TestHostileArchivesAreRefused(t *testing.T) {
	c := newCLI(t)
	sentinel := filepath.Join(c.dir, "sentinel")
	os.Mkdir(sentinel, 0o755)
	abs := filepath.Join(sentinel, "abs-x")
	cases := map[string][]hostileEntry{
		"zip-slip": {{name: "../../x", typ: tar.TypeReg, body: "x"}},
		"absolute": {{name: abs, typ: tar.TypeReg, body: "x"}},
		"symlink-then-file": {
			{name: "a", link: sentinel, typ: tar.TypeSymlink},
			{name: "a/x", typ: tar.TypeReg, body: "x"},
		},
		"hardlink-outside": {{name: "passwd", link: "/etc/passwd", typ: tar.TypeLink}},
		"hardlink-dotdot":  {{name: "up", link: "../sentinel/y", typ: tar.TypeLink}},
		"size-beyond-data": {{name: "big", typ: tar.TypeReg, size: 1 << 30, body: "short"}},
	}
	offender := map[string]string{
		"zip-slip": "../../x", "absolute": abs, "symlink-then-file": "a/x",
		"hardlink-outside": "passwd", "hardlink-dotdot": "up", "size-beyond-data": "big",
	}
	for name, entries := range cases {
		archive := filepath.Join(c.dir, "db-20261101T040000Z.tar.zst")
		writeClassic(t, archive, entries)
		target := filepath.Join(c.dir, "target")
		code, out := c.run("restore", "--archive", archive, "--target", target)
		if code == 0 {
			t.Errorf("%s: restore succeeded:\n%s", name, out)
			continue
		}
		if !strings.Contains(out, `"`+offender[name]+`"`) {
			t.Errorf("%s: error does not name entry %q:\n%s", name, offender[name], out)
		}
		if ents, _ := os.ReadDir(sentinel); len(ents) != 0 {
			t.Fatalf("%s: %s was written outside the staging directory", name, ents[0].Name())
		}
		if m, _ := filepath.Glob(target + "*"); len(m) != 0 {
			t.Errorf("%s: left %v behind", name, m)
		}
	}
}
