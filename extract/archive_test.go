//go:build linux

package extract

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	testMtime = time.Unix(1600000000, 123456789)
	testAtime = time.Unix(1500000000, 987654321)
)

const testUID, testGID = 1234, 2345

// entry is one tar entry to write: a header and, for regular files, a body.
type entry struct {
	tar.Header
	body string
}

func reg(name, body string, mode int64) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body}
}

func dir(name string, mode int64) entry {
	return entry{Header: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}

func symlink(name, target string) entry {
	return entry{Header: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) entry {
	return entry{Header: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}}
}

func node(name string, typ byte, mode, major, minor int64) entry {
	return entry{Header: tar.Header{Typeflag: typ, Name: name, Mode: mode, Devmajor: major, Devminor: minor}}
}

// archive writes entries as a PAX tar stream. Entries other than global
// headers get testUID and testGID, and testMtime when they have no time.
func archive(tb testing.TB, entries ...entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		writeEntry(tb, tw, e)
	}
	if err := tw.Close(); err != nil {
		tb.Fatalf("close tar: %v", err)
	}
	return buf.Bytes()
}

func writeEntry(tb testing.TB, tw *tar.Writer, e entry) {
	tb.Helper()
	h := e.Header
	h.Format = tar.FormatPAX
	if h.Typeflag != tar.TypeXGlobalHeader {
		if h.ModTime.IsZero() {
			h.ModTime = testMtime
		}
		h.Uid, h.Gid = testUID, testGID
	}
	if err := tw.WriteHeader(&h); err != nil {
		tb.Fatalf("write header %q: %v", h.Name, err)
	}
	if _, err := io.WriteString(tw, e.body); err != nil {
		tb.Fatalf("write body %q: %v", h.Name, err)
	}
}

// truncated returns a stream whose single file claims more data than it has.
func truncated(tb testing.TB, name string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	e := reg(name, "only ten b", 0o644)
	e.Size = 4096
	writeEntry(tb, tw, e)
	return buf.Bytes()
}

// nulName returns a stream whose PAX path record holds a NUL byte, which
// tar.Writer refuses to write: a long name forces a path record, and the
// placeholder inside it is patched afterwards (PAX data has no checksum).
func nulName(tb testing.TB) []byte {
	tb.Helper()
	data := archive(tb, reg(strings.Repeat("n", 120)+"@evil", "x", 0o644))
	i := bytes.IndexByte(data, '@')
	if i < 0 {
		tb.Fatal("placeholder not found")
	}
	data[i] = 0
	return data
}

// sparse returns a stream with a PAX GNU sparse file of one data byte that
// expands to 1 MiB. tar.Writer refuses GNU.sparse records, so they are
// written under a placeholder prefix and patched afterwards.
func sparse(tb testing.TB) []byte {
	tb.Helper()
	e := reg("sparse", "s", 0o644)
	e.PAXRecords = map[string]string{
		"XXX.sparse.major":     "0",
		"XXX.sparse.minor":     "1",
		"XXX.sparse.size":      "1048576",
		"XXX.sparse.numblocks": "1",
		"XXX.sparse.map":       "0,1",
	}
	return bytes.ReplaceAll(archive(tb, e), []byte("XXX.sparse."), []byte("GNU.sparse."))
}

// allTypes is an archive with an entry of every supported type but devices.
func allTypes() []entry {
	withXattr := reg("d/f", "hello", 0o640)
	withXattr.AccessTime = testAtime
	withXattr.PAXRecords = map[string]string{xattrPrefix + "user.test": "value"}
	return []entry{
		{Header: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "global", PAXRecords: map[string]string{"comment": "pocketsnap"}}},
		dir("d/", 0o750),
		withXattr,
		reg("suid", "#!/bin/sh\n", 0o4755),
		reg("sgid", "", 0o2750),
		dir("sticky", 0o1777),
		dir("ro", 0o555),
		reg("ro/f", "in a read-only directory", 0o444),
		symlink("d/abs", "/etc/passwd"),
		symlink("rel", "d/f"),
		hardlink("d/h", "d/f"),
		node("p", tar.TypeFifo, 0o640, 0, 0),
		reg("imp/sub/f", "implicit parents", 0o600),
	}
}

// newTarget makes an empty target directory and an empty sentinel directory
// beside it in a fresh parent, and makes the tree removable at cleanup even
// when extracted directory modes deny access.
func newTarget(tb testing.TB) (parent, target, sentinel string) {
	tb.Helper()
	parent = tb.TempDir()
	target = filepath.Join(parent, "target")
	sentinel = filepath.Join(parent, "sentinel")
	for _, d := range []string{target, sentinel} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() { makeRemovable(parent) })
	return parent, target, sentinel
}

// makeRemovable gives every directory below dir owner access, so that the
// testing package can remove it when not running as root.
func makeRemovable(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
}

// assertContained fails unless parent holds only the target and the
// sentinel, and the sentinel is still empty.
func assertContained(tb testing.TB, parent, sentinel string) {
	tb.Helper()
	var names []string
	ents, err := os.ReadDir(parent)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"sentinel", "target"}) {
		tb.Fatalf("parent of target holds %q, want only sentinel and target", names)
	}
	if ents, err := os.ReadDir(sentinel); err != nil || len(ents) != 0 {
		tb.Fatalf("sentinel: %d entries, err %v; want empty", len(ents), err)
	}
}

// hostileCase is an archive that Extract must refuse.
type hostileCase struct {
	name string
	data []byte
	// entry is the Name of the expected *EntryError; empty when the tar
	// reader itself refuses the stream.
	entry string
	want  error
	// outside are paths that an escape would have created.
	outside []string
}

// hostileCases builds the refused archives. abs is an absolute directory
// that escapes aim at, token makes the names of zip-slip files unique.
func hostileCases(tb testing.TB, abs, token string) []hostileCase {
	slip := "x-" + token
	absFile := filepath.Join(abs, "abs-"+token)
	return []hostileCase{
		{"zip-slip", archive(tb, reg("../../"+slip, "x", 0o644)), "../../" + slip, ErrUnsafePath, []string{slip}},
		{"zip-slip into sibling", archive(tb, reg("ok", "", 0o644), reg("../sentinel/x", "x", 0o644)), "../sentinel/x", ErrUnsafePath, nil},
		{"dotdot inside name", archive(tb, reg("a/../../"+slip, "x", 0o644)), "a/../../" + slip, ErrUnsafePath, []string{slip}},
		{"absolute", archive(tb, reg(absFile, "x", 0o644)), absFile, ErrUnsafePath, []string{absFile}},
		{"symlink to absolute dir", archive(tb, symlink("a", abs), reg("a/x", "x", 0o644)), "a/x", ErrUnsafePath, []string{filepath.Join(abs, "x")}},
		{"symlink to sibling", archive(tb, symlink("a", "../sentinel"), reg("a/x", "x", 0o644)), "a/x", ErrUnsafePath, nil},
		{"symlink to parent", archive(tb, symlink("a", ".."), reg("a/x", "x", 0o644)), "a/x", ErrUnsafePath, nil},
		{"symlink dir via symlink", archive(tb, symlink("a", ".."), dir("a/d", 0o755)), "a/d", ErrUnsafePath, nil},
		{"symlink inside", archive(tb, dir("real", 0o755), symlink("s", "real"), reg("s/x", "x", 0o644)), "s/x", ErrUnsafePath, nil},
		{"hardlink absolute", archive(tb, hardlink("h", "/etc/passwd")), "h", ErrUnsafePath, nil},
		{"hardlink dotdot", archive(tb, hardlink("h", "../outside")), "h", ErrUnsafePath, nil},
		{"hardlink through symlink", archive(tb, reg("f", "x", 0o644), symlink("a", "."), hardlink("h", "a/f")), "h", ErrUnsafePath, nil},
		{"hardlink to missing", archive(tb, hardlink("h", "later"), reg("later", "", 0o644)), "h", fs.ErrNotExist, nil},
		{"hardlink to directory", archive(tb, dir("d", 0o755), hardlink("h", "d")), "h", ErrUnsupported, nil},
		{"truncated data", truncated(tb, "big"), "big", io.ErrUnexpectedEOF, nil},
		{"NUL in name", nulName(tb), "", tar.ErrHeader, nil},
		{"empty name", archive(tb, reg("", "x", 0o644)), "", ErrUnsafePath, nil},
		{"device without Devices", archive(tb, node("dev", tar.TypeChar, 0o666, 1, 3)), "dev", ErrUnsupported, nil},
		{"block device without Devices", archive(tb, node("blk", tar.TypeBlock, 0o666, 7, 0)), "blk", ErrUnsupported, nil},
		{"unknown type", archive(tb, node("odd", 'Z', 0o644, 0, 0)), "odd", ErrUnsupported, nil},
		{"duplicate file", archive(tb, reg("dup", "1", 0o644), reg("dup", "2", 0o644)), "dup", fs.ErrExist, nil},
		{"file over symlink", archive(tb, symlink("l", "t"), reg("l", "x", 0o644)), "l", fs.ErrExist, nil},
		{"symlink over file", archive(tb, reg("f", "x", 0o644), symlink("f", "t")), "f", fs.ErrExist, nil},
		{"hardlink over file", archive(tb, reg("f", "x", 0o644), reg("g", "y", 0o644), hardlink("g", "f")), "g", fs.ErrExist, nil},
		{"directory over file", archive(tb, reg("f", "x", 0o644), dir("f", 0o755)), "f", fs.ErrExist, nil},
		{"fifo over file", archive(tb, reg("f", "x", 0o644), node("f", tar.TypeFifo, 0o644, 0, 0)), "f", fs.ErrExist, nil},
	}
}
