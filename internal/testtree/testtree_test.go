//go:build linux

package testtree

import (
	"bytes"
	"compress/flate"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// generate creates a fresh tree from seed in a temporary directory.
func generate(t *testing.T, seed int64) string {
	t.Helper()
	dir := t.TempDir()
	// Registered after TempDir, so it runs before TempDir's removal and lets
	// non-root users delete the read-only directory.
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	if err := Generate(dir, seed); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mustHash returns Hash(dir) or fails the test.
func mustHash(t *testing.T, dir string) string {
	t.Helper()
	h, err := Hash(dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// lstat returns the unix stat of p or fails the test.
func lstat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return &st
}

// setMtime sets the mtime of p without following symlinks.
func setMtime(t *testing.T, p string, ts unix.Timespec) {
	t.Helper()
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
}

// preserve records the mtimes of paths and returns a function restoring them
// on those that still exist, so a mutation leaves no side effect on mtimes.
func preserve(t *testing.T, paths ...string) func() {
	t.Helper()
	saved := make(map[string]unix.Timespec)
	for _, p := range paths {
		var st unix.Stat_t
		if unix.Lstat(p, &st) == nil {
			saved[p] = st.Mtim
		}
	}
	return func() {
		for p, ts := range saved {
			if _, err := os.Lstat(p); err == nil {
				setMtime(t, p, ts)
			}
		}
	}
}

// check fails the test if err is not nil.
func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	want, got := generate(t, 1), generate(t, 1)
	if err := Compare(want, got, Options{}); err != nil {
		t.Fatalf("Compare of two trees with the same seed: %v", err)
	}
	if hw, hg := mustHash(t, want), mustHash(t, got); hw != hg {
		t.Fatalf("Hash differs for the same seed: %s != %s", hw, hg)
	}
	if h1, h2 := mustHash(t, want), mustHash(t, want); h1 != h2 {
		t.Fatalf("Hash of an unchanged tree changed: %s != %s", h1, h2)
	}

	other := generate(t, 2)
	if err := Compare(want, other, Options{}); err == nil {
		t.Fatal("Compare of trees with different seeds returned nil")
	}
	if mustHash(t, want) == mustHash(t, other) {
		t.Fatal("Hash equal for different seeds")
	}
}

func TestGenerateContents(t *testing.T) {
	dir := generate(t, 7)
	p := func(rel string) string { return filepath.Join(dir, rel) }

	types := map[string]uint32{
		"perm/readonly":            unix.S_IFDIR | 0o555,
		"perm/sticky":              unix.S_IFDIR | 0o1777,
		"perm/setuid-bin":          unix.S_IFREG | 0o4755,
		"perm/private.txt":         unix.S_IFREG | 0o600,
		"perm/readonly/inside.txt": unix.S_IFREG | 0o444,
		"special/fifo":             unix.S_IFIFO | 0o644,
		"links/absolute":           unix.S_IFLNK | 0o777,
	}
	for rel, mode := range types {
		if st := lstat(t, p(rel)); st.Mode != mode {
			t.Errorf("%s: mode %#o, want %#o", rel, st.Mode, mode)
		}
	}

	targets := map[string]string{
		"links/relative": "../docs/hello.txt",
		"links/absolute": "/etc/passwd",
		"links/dangling": "missing/nowhere.txt",
		"links/to-dir":   "../nested/a",
	}
	for rel, want := range targets {
		if got, err := os.Readlink(p(rel)); err != nil || got != want {
			t.Errorf("%s: readlink = %q, %v; want %q", rel, got, err, want)
		}
	}
	if _, err := os.Stat(p("links/dangling")); !os.IsNotExist(err) {
		t.Errorf("links/dangling is not dangling: %v", err)
	}
	if fi, err := os.Stat(p("links/to-dir")); err != nil || !fi.IsDir() {
		t.Errorf("links/to-dir does not point at a directory: %v", err)
	}

	if n := lstat(t, p("hard/pair-b")).Nlink; n != 2 {
		t.Errorf("hard/pair-b: nlink %d, want 2", n)
	}
	if n := lstat(t, p("nested/a/b/triple-3")).Nlink; n != 3 {
		t.Errorf("nested/a/b/triple-3: nlink %d, want 3", n)
	}

	sizes := map[string]int64{"docs/empty": 0, "data/random.bin": 3 << 20, "data/text.log": 2 << 20, "data/sparse.img": 8 << 20}
	for rel, want := range sizes {
		if st := lstat(t, p(rel)); st.Size != want {
			t.Errorf("%s: size %d, want %d", rel, st.Size, want)
		}
	}
	ratio := func(rel string) float64 {
		data, err := os.ReadFile(p(rel))
		check(t, err)
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestSpeed)
		w.Write(data)
		w.Close()
		return float64(buf.Len()) / float64(len(data))
	}
	if r := ratio("data/random.bin"); r < 0.99 {
		t.Errorf("data/random.bin compresses to %.2f, want incompressible", r)
	}
	if r := ratio("data/text.log"); r > 0.5 {
		t.Errorf("data/text.log compresses to %.2f, want compressible", r)
	}
	sparse, err := os.ReadFile(p("data/sparse.img"))
	check(t, err)
	if nz := len(sparse) - bytes.Count(sparse, []byte{0}); nz == 0 || nz > sparseRegions*sparseRegion {
		t.Errorf("data/sparse.img has %d non-zero bytes", nz)
	}

	var deep, long, name200, unicode bool
	nsecs := map[int64]bool{}
	check(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		st := lstat(t, path)
		if st.Mtim.Nsec == 0 {
			t.Errorf("%s: mtime has zero nanoseconds", rel)
		}
		nsecs[int64(st.Mtim.Nsec)] = true
		deep = deep || (d.IsDir() && strings.Count(rel, "/") >= 3)
		long = long || len(rel) > 256
		name200 = name200 || len(d.Name()) == 200
		unicode = unicode || strings.Contains(d.Name(), "日本語")
		return nil
	}))
	if !deep || !long || !name200 || !unicode {
		t.Errorf("missing entries: depth>=4 %v, path>256 %v, 200-byte name %v, unicode %v", deep, long, name200, unicode)
	}
	if len(nsecs) < 20 {
		t.Errorf("only %d distinct mtime nanoseconds", len(nsecs))
	}
}

func TestGenerateErrors(t *testing.T) {
	if err := Generate(filepath.Join(t.TempDir(), "missing"), 1); err == nil {
		t.Error("Generate into a missing directory returned nil")
	}
	dir := generate(t, 1)
	if err := Generate(dir, 1); err == nil {
		t.Error("Generate into an already generated tree returned nil")
	}
}

// breakLink replaces the hardlink p by an independent copy with the same
// content, mode and mtime.
func breakLink(t *testing.T, p string) {
	data, err := os.ReadFile(p)
	check(t, err)
	st := lstat(t, p)
	check(t, os.Remove(p))
	check(t, os.WriteFile(p, data, 0o600))
	check(t, unix.Chmod(p, st.Mode&0o7777))
	setMtime(t, p, st.Mtim)
}

func TestCompareDetectsDifferences(t *testing.T) {
	want := generate(t, 3)
	wantHash := mustHash(t, want)
	cases := []struct {
		name, rel string
		errPath   string // path named by the error, if not rel
		msg       string
		mutate    func(t *testing.T, p string)
	}{
		{"content", "data/random.bin", "", "content differs at byte 1234567", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			check(t, err)
			defer f.Close()
			b := make([]byte, 1)
			_, err = f.ReadAt(b, 1234567)
			check(t, err)
			_, err = f.WriteAt([]byte{^b[0]}, 1234567)
			check(t, err)
		}},
		{"sparse content", "data/sparse.img", "", "content differs at byte 8388607", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			check(t, err)
			defer f.Close()
			_, err = f.WriteAt([]byte{0x5a}, 8<<20-1)
			check(t, err)
		}},
		{"size", "data/text.log", "", "size 2097152 != 2097151", func(t *testing.T, p string) {
			check(t, os.Truncate(p, 2<<20-1))
		}},
		{"mode", "perm/private.txt", "", "mode 0600 != 0640", func(t *testing.T, p string) {
			check(t, unix.Chmod(p, 0o640))
		}},
		{"setuid", "perm/setuid-bin", "", "mode 04755 != 0755", func(t *testing.T, p string) {
			check(t, unix.Chmod(p, 0o755))
		}},
		{"file mtime", "docs/hello.txt", "", "mtime", func(t *testing.T, p string) {
			ts := lstat(t, p).Mtim
			setMtime(t, p, unix.Timespec{Sec: ts.Sec, Nsec: ts.Nsec + 1})
		}},
		{"symlink mtime", "links/dangling", "", "mtime", func(t *testing.T, p string) {
			ts := lstat(t, p).Mtim
			setMtime(t, p, unix.Timespec{Sec: ts.Sec, Nsec: ts.Nsec - 1})
		}},
		{"dir mtime", "nested/a/b/c", "", "mtime", func(t *testing.T, p string) {
			ts := lstat(t, p).Mtim
			setMtime(t, p, unix.Timespec{Sec: ts.Sec, Nsec: ts.Nsec + 1})
		}},
		{"symlink target", "links/relative", "", `symlink target "../docs/hello.txt" != "../docs/empty"`, func(t *testing.T, p string) {
			check(t, os.Remove(p))
			check(t, os.Symlink("../docs/empty", p))
		}},
		{"hardlink pair broken", "hard/pair-b", "hard/pair-a", `hardlink group ["hard/pair-a" "hard/pair-b"] != ["hard/pair-a"]`, breakLink},
		{"hardlink pair broken first", "hard/pair-a", "", `hardlink group ["hard/pair-a" "hard/pair-b"] != ["hard/pair-a"]`, breakLink},
		{"hardlink triple broken", "hard/sub/triple-2", "",
			`hardlink group ["hard/sub/triple-2" "hard/triple-1" "nested/a/b/triple-3"] != ["hard/sub/triple-2"]`, breakLink},
		{"hardlink triple broken last", "nested/a/b/triple-3", "hard/sub/triple-2",
			`hardlink group ["hard/sub/triple-2" "hard/triple-1" "nested/a/b/triple-3"] != ["hard/sub/triple-2" "hard/triple-1"]`, breakLink},
		{"type", "special/fifo", "", "type fifo != regular file", func(t *testing.T, p string) {
			st := lstat(t, p)
			check(t, os.Remove(p))
			check(t, os.WriteFile(p, nil, 0o644))
			setMtime(t, p, st.Mtim)
		}},
		{"file removed", "names/ünïcødé-日本語.txt", "", "missing in got", func(t *testing.T, p string) {
			check(t, os.Remove(p))
		}},
		{"dir removed", "nested/a/b/c/d", "", "missing in got", func(t *testing.T, p string) {
			check(t, os.RemoveAll(p))
		}},
		{"extra file", "names/extra.txt", "", "unexpected in got", func(t *testing.T, p string) {
			check(t, os.WriteFile(p, []byte("extra\n"), 0o644))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := generate(t, 3)
			p := filepath.Join(got, filepath.FromSlash(tc.rel))
			keep := []string{filepath.Dir(p)}
			if tc.msg != "mtime" { // keep rel's mtime unless changing it is the point
				keep = append(keep, p)
			}
			restore := preserve(t, keep...)
			tc.mutate(t, p)
			restore()
			errPath := tc.rel
			if tc.errPath != "" {
				errPath = tc.errPath
			}

			err := Compare(want, got, Options{})
			if err == nil {
				t.Fatal("Compare returned nil")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, errPath+": ") || !strings.Contains(msg, tc.msg) {
				t.Fatalf("Compare = %q, want %q naming %q", msg, tc.msg, errPath)
			}
			if mustHash(t, got) == wantHash {
				t.Fatal("Hash unchanged")
			}
		})
	}
}

func TestCompareReportsFirstDifferenceBytewise(t *testing.T) {
	mk := func() string {
		dir := t.TempDir()
		check(t, os.Mkdir(filepath.Join(dir, "x"), 0o755))
		check(t, os.WriteFile(filepath.Join(dir, "x", "y"), []byte("1"), 0o644))
		check(t, os.WriteFile(filepath.Join(dir, "x-y"), []byte("2"), 0o644))
		return dir
	}
	want, got := mk(), mk()
	// Walk order would visit x/y first; bytewise order puts "x-y" first.
	check(t, os.Chmod(filepath.Join(got, "x", "y"), 0o600))
	check(t, os.Chmod(filepath.Join(got, "x-y"), 0o600))
	err := Compare(want, got, Options{IgnoreDirMtime: true, IgnoreRootDir: true})
	if err == nil || err.Error() != "x-y: mode 0644 != 0600" {
		t.Fatalf("Compare = %v, want x-y: mode 0644 != 0600", err)
	}
}

func TestCompareOptions(t *testing.T) {
	want := generate(t, 4)

	t.Run("IgnoreOwner", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("needs root to chown")
		}
		got := generate(t, 4)
		check(t, os.Lchown(filepath.Join(got, "docs/hello.txt"), 4242, 4343))
		if err := Compare(want, got, Options{}); err == nil || !strings.HasPrefix(err.Error(), "docs/hello.txt: uid 0 != 4242") {
			t.Fatalf("Compare = %v, want uid difference on docs/hello.txt", err)
		}
		check(t, Compare(want, got, Options{IgnoreOwner: true}))
	})

	t.Run("IgnoreRootDir", func(t *testing.T) {
		got := generate(t, 4)
		check(t, os.Chmod(got, 0o751))
		setMtime(t, got, unix.Timespec{Sec: 1, Nsec: 2})
		if err := Compare(want, got, Options{}); err == nil || !strings.HasPrefix(err.Error(), ".: mode") {
			t.Fatalf("Compare = %v, want mode difference on .", err)
		}
		check(t, unix.Chmod(got, lstat(t, want).Mode&0o7777))
		if err := Compare(want, got, Options{}); err == nil || !strings.HasPrefix(err.Error(), ".: mtime") {
			t.Fatalf("Compare = %v, want mtime difference on .", err)
		}
		check(t, os.Chmod(got, 0o751))
		check(t, Compare(want, got, Options{IgnoreRootDir: true}))
	})

	t.Run("IgnoreDirMtime", func(t *testing.T) {
		got := generate(t, 4)
		check(t, os.WriteFile(filepath.Join(got, "nested/a/new"), nil, 0o644))
		check(t, os.Remove(filepath.Join(got, "nested/a/new")))
		if err := Compare(want, got, Options{}); err == nil || !strings.HasPrefix(err.Error(), "nested/a: mtime") {
			t.Fatalf("Compare = %v, want mtime difference on nested/a", err)
		}
		check(t, Compare(want, got, Options{IgnoreDirMtime: true}))
		setMtime(t, filepath.Join(got, "docs/empty"), unix.Timespec{Sec: 1, Nsec: 1})
		if err := Compare(want, got, Options{IgnoreDirMtime: true}); err == nil || !strings.HasPrefix(err.Error(), "docs/empty: mtime") {
			t.Fatalf("Compare = %v, want file mtime still compared", err)
		}
	})
}

func TestCompareSubset(t *testing.T) {
	want := generate(t, 4)
	got := generate(t, 4)
	check(t, Compare(want, got, Options{Subset: true}))
	// Dropping a path and one link of a triple is a subset once the
	// directories' mtimes are put back; the remaining links must still
	// share their inode.
	keep := preserve(t, filepath.Join(got, "docs"), filepath.Join(got, "hard/sub"))
	check(t, os.Remove(filepath.Join(got, "docs/hello.txt")))
	check(t, os.Remove(filepath.Join(got, "hard/sub/triple-2")))
	keep()
	if err := Compare(want, got, Options{}); err == nil || !strings.HasPrefix(err.Error(), "docs/hello.txt: missing in got") {
		t.Fatalf("Compare = %v, want docs/hello.txt missing", err)
	}
	check(t, Compare(want, got, Options{Subset: true}))

	// A link that became a copy is a difference.
	keep = preserve(t, filepath.Join(got, "nested/a/b"))
	breakLink(t, filepath.Join(got, "nested/a/b/triple-3"))
	keep()
	if err := Compare(want, got, Options{Subset: true}); err == nil || !strings.Contains(err.Error(), "hardlink group") {
		t.Fatalf("Compare = %v, want a hardlink group difference", err)
	}
	// So are an extra path and a changed one.
	got = generate(t, 4)
	keep = preserve(t, got)
	check(t, os.WriteFile(filepath.Join(got, "extra"), nil, 0o644))
	keep()
	if err := Compare(want, got, Options{Subset: true}); err == nil || !strings.HasPrefix(err.Error(), "extra: unexpected in got") {
		t.Fatalf("Compare = %v, want extra unexpected", err)
	}
	got = generate(t, 4)
	check(t, os.Chmod(filepath.Join(got, "docs/hello.txt"), 0o600))
	if err := Compare(want, got, Options{Subset: true}); err == nil || !strings.HasPrefix(err.Error(), "docs/hello.txt: mode") {
		t.Fatalf("Compare = %v, want a mode difference", err)
	}
}

func TestCompareDevices(t *testing.T) {
	mk := func(minor uint32) string {
		dir := t.TempDir()
		if err := unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, minor))); err != nil {
			t.Skipf("cannot create device nodes: %v", err)
		}
		setMtime(t, filepath.Join(dir, "null"), unix.Timespec{Sec: 1000, Nsec: 5})
		setMtime(t, dir, unix.Timespec{Sec: 2000, Nsec: 7})
		return dir
	}
	want, got := mk(3), mk(5)
	err := Compare(want, got, Options{})
	if err == nil || err.Error() != "null: device 1:3 != 1:5" {
		t.Fatalf("Compare = %v, want null: device 1:3 != 1:5", err)
	}
	if mustHash(t, want) == mustHash(t, got) {
		t.Fatal("Hash equal for different device numbers")
	}
}
