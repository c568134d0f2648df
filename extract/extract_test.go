//go:build linux

package extract

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func extract(tb testing.TB, data []byte, target string, opt Options) (Stats, error) {
	tb.Helper()
	return Extract(context.Background(), bytes.NewReader(data), target, opt)
}

func lstat(t *testing.T, p string) (os.FileInfo, *syscall.Stat_t) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi, fi.Sys().(*syscall.Stat_t)
}

func TestExtractAllTypes(t *testing.T) {
	_, target, _ := newTarget(t)
	root := os.Geteuid() == 0
	stats, err := extract(t, archive(t, allTypes()...), target, Options{Owners: root})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	want := Stats{Entries: 12, Files: 5, Dirs: 3, Symlinks: 2, Hardlinks: 1, Others: 1, Bytes: 5 + 10 + 24 + 16}
	if stats != want {
		t.Errorf("stats = %+v, want %+v", stats, want)
	}
	p := func(name string) string { return filepath.Join(target, name) }

	checks := []struct {
		name string
		mode fs.FileMode
	}{
		{"d", fs.ModeDir | 0o750},
		{"d/f", 0o640},
		{"suid", fs.ModeSetuid | 0o755},
		{"sgid", fs.ModeSetgid | 0o750},
		{"sticky", fs.ModeDir | fs.ModeSticky | 0o777},
		{"ro", fs.ModeDir | 0o555},
		{"ro/f", 0o444},
		{"p", fs.ModeNamedPipe | 0o640},
	}
	for _, c := range checks {
		fi, st := lstat(t, p(c.name))
		if fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.name, fi.Mode(), c.mode)
		}
		if !fi.ModTime().Equal(testMtime) {
			t.Errorf("%s: mtime %v, want %v", c.name, fi.ModTime(), testMtime)
		}
		if root && (st.Uid != testUID || st.Gid != testGID) {
			t.Errorf("%s: owner %d:%d, want %d:%d", c.name, st.Uid, st.Gid, testUID, testGID)
		}
	}

	// Before any read: with relatime, reading d/f would reset its atime.
	if _, st := lstat(t, p("d/f")); time.Unix(st.Atim.Unix()).UnixNano() != testAtime.UnixNano() {
		t.Errorf("d/f: atime %v, want %v", time.Unix(st.Atim.Unix()), testAtime)
	}
	if got, err := os.ReadFile(p("d/f")); err != nil || string(got) != "hello" {
		t.Errorf("d/f = %q, %v", got, err)
	}
	if got, err := os.ReadFile(p("imp/sub/f")); err != nil || string(got) != "implicit parents" {
		t.Errorf("imp/sub/f = %q, %v", got, err)
	}

	for name, want := range map[string]string{"d/abs": "/etc/passwd", "rel": "d/f"} {
		fi, st := lstat(t, p(name))
		if fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("%s: mode %v, want a symlink", name, fi.Mode())
		}
		if got, err := os.Readlink(p(name)); err != nil || got != want {
			t.Errorf("%s -> %q, %v; want %q", name, got, err, want)
		}
		if !fi.ModTime().Equal(testMtime) {
			t.Errorf("%s: symlink mtime %v, want %v", name, fi.ModTime(), testMtime)
		}
		if root && (st.Uid != testUID || st.Gid != testGID) {
			t.Errorf("%s: symlink owner %d:%d", name, st.Uid, st.Gid)
		}
	}

	f, _ := lstat(t, p("d/f"))
	h, _ := lstat(t, p("d/h"))
	if !os.SameFile(f, h) {
		t.Error("d/h is not the same inode as d/f")
	}
	checkXattr(t, p("d/f"))
}

// checkXattr checks the user.test xattr unless the file system of p lacks
// user xattrs.
func checkXattr(t *testing.T, p string) {
	t.Helper()
	probe := filepath.Join(filepath.Dir(filepath.Dir(p)), "xattr-probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := unix.Lsetxattr(probe, "user.probe", []byte("1"), 0)
	if errors.Is(err, unix.EOPNOTSUPP) {
		t.Log("file system has no user xattrs; xattr not checked")
		return
	}
	if err != nil {
		t.Fatalf("probe xattr: %v", err)
	}
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(p, "user.test", buf)
	if err != nil || string(buf[:n]) != "value" {
		t.Errorf("xattr user.test = %q, %v; want %q", buf[:max(n, 0)], err, "value")
	}
}

func TestExtractDevices(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("device nodes need root")
	}
	_, target, _ := newTarget(t)
	data := archive(t, node("null", tar.TypeChar, 0o666, 1, 3), node("loop", tar.TypeBlock, 0o660, 7, 200))
	stats, err := extract(t, data, target, Options{Devices: true})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if stats.Others != 2 || stats.Entries != 2 {
		t.Errorf("stats = %+v, want 2 others", stats)
	}
	for _, c := range []struct {
		name         string
		mode         fs.FileMode
		major, minor uint32
	}{
		{"null", fs.ModeDevice | fs.ModeCharDevice | 0o666, 1, 3},
		{"loop", fs.ModeDevice | 0o660, 7, 200},
	} {
		fi, st := lstat(t, filepath.Join(target, c.name))
		if fi.Mode() != c.mode || st.Rdev != unix.Mkdev(c.major, c.minor) {
			t.Errorf("%s: mode %v rdev %#x, want %v %d,%d", c.name, fi.Mode(), st.Rdev, c.mode, c.major, c.minor)
		}
	}
}

func TestExtractLegacyRegular(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	h := &tar.Header{Typeflag: tar.TypeReg, Name: "old", Mode: 0o644, Size: 3, ModTime: time.Unix(1600000000, 0), Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("v7\n")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	data[156] = 0 // legacy '\x00' type flag
	setChecksum(data[:512])

	_, target, _ := newTarget(t)
	if _, err := extract(t, data, target, Options{}); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(target, "old")); err != nil || string(got) != "v7\n" {
		t.Errorf("old = %q, %v", got, err)
	}
}

// setChecksum recomputes the checksum of a tar header block.
func setChecksum(block []byte) {
	copy(block[148:156], "        ")
	var sum int
	for _, b := range block {
		sum += int(b)
	}
	copy(block[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

func TestExtractDirectoryRespecified(t *testing.T) {
	_, target, _ := newTarget(t)
	later := time.Unix(1700000000, 42)
	again := dir("a", 0o700)
	again.ModTime = later
	self := dir("./", 0o750)
	self.ModTime = later
	// Without search permission on "locked", a non-root extractor can only
	// fix "locked/inner" if it goes deepest first.
	data := archive(t, dir("a", 0o755), reg("a/f", "x", 0o600), again, dir("a/b", 0o500), self,
		dir("locked", 0o600), dir("locked/inner", 0o755))
	stats, err := extract(t, data, target, Options{})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if stats.Dirs != 6 || stats.Files != 1 {
		t.Errorf("stats = %+v, want 6 dirs and 1 file", stats)
	}
	for name, want := range map[string]struct {
		mode  fs.FileMode
		mtime time.Time
	}{
		".":      {fs.ModeDir | 0o750, later},
		"a":      {fs.ModeDir | 0o700, later},
		"a/b":    {fs.ModeDir | 0o500, testMtime},
		"locked": {fs.ModeDir | 0o600, testMtime},
	} {
		fi, _ := lstat(t, filepath.Join(target, name))
		if fi.Mode() != want.mode || !fi.ModTime().Equal(want.mtime) {
			t.Errorf("%s: mode %v mtime %v, want %v %v", name, fi.Mode(), fi.ModTime(), want.mode, want.mtime)
		}
	}
}

func TestExtractHostile(t *testing.T) {
	abs := t.TempDir()
	token := fmt.Sprintf("pocketsnap-%d-%d", os.Getpid(), time.Now().UnixNano())
	for _, c := range hostileCases(t, abs, token) {
		t.Run(c.name, func(t *testing.T) {
			parent, target, sentinel := newTarget(t)
			_, err := extract(t, c.data, target, Options{Owners: os.Geteuid() == 0})
			checkRefused(t, c, err)
			assertContained(t, parent, sentinel)
			outside := append([]string{filepath.Join(os.TempDir(), "x-"+token)}, c.outside...)
			for _, p := range outside {
				if !filepath.IsAbs(p) {
					p = filepath.Join(target, "../..", p)
				}
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s exists after extraction (lstat: %v)", p, err)
				}
			}
			if ents, _ := os.ReadDir(abs); len(ents) != 0 {
				t.Errorf("absolute escape directory holds %d entries", len(ents))
			}
		})
	}
}

// checkRefused checks that err is the refusal c expects.
func checkRefused(t *testing.T, c hostileCase, err error) {
	t.Helper()
	if !errors.Is(err, c.want) {
		t.Fatalf("err = %v, want one wrapping %v", err, c.want)
	}
	var ee *EntryError
	if c.entry == "" && c.want == tar.ErrHeader {
		if errors.As(err, &ee) {
			t.Fatalf("err = %v, want a tar reader error", err)
		}
		return
	}
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v (%T), want *EntryError", err, err)
	}
	if ee.Name != c.entry {
		t.Errorf("EntryError.Name = %q, want %q", ee.Name, c.entry)
	}
	if prefix := fmt.Sprintf("entry %q: ", c.entry); !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("Error() = %q, want prefix %q", err.Error(), prefix)
	}
}

func TestCleanName(t *testing.T) {
	for name, want := range map[string]string{
		"a":       "a",
		"./a//b/": "a/b",
		"./":      ".",
		"a/./b":   "a/b",
		"..a/b..": "..a/b..",
	} {
		if got, err := cleanName(name); err != nil || got != want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"", "/a", "..", "../a", "a/..", "a/../b", "a\x00b", "//a"} {
		if got, err := cleanName(name); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("cleanName(%q) = %q, %v; want ErrUnsafePath", name, got, err)
		}
	}
}

func TestExtractTargetMustBeEmpty(t *testing.T) {
	_, target, _ := newTarget(t)
	if err := os.WriteFile(filepath.Join(target, "old"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := extract(t, archive(t, reg("new", "", 0o644)), target, Options{}); err == nil {
		t.Error("Extract into a non-empty directory succeeded")
	}
	if _, err := os.Lstat(filepath.Join(target, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("new was created in a non-empty target (lstat: %v)", err)
	}
	if _, err := extract(t, nil, filepath.Join(target, "missing"), Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Extract into a missing directory: %v, want ErrNotExist", err)
	}
}

func TestExtractCanceled(t *testing.T) {
	_, target, _ := newTarget(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stats, err := Extract(ctx, bytes.NewReader(archive(t, reg("f", "x", 0o644))), target, Options{})
	var ee *EntryError
	if !errors.Is(err, context.Canceled) || errors.As(err, &ee) {
		t.Fatalf("err = %v, want context.Canceled and no EntryError", err)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 || stats != (Stats{}) {
		t.Errorf("canceled extraction created %d entries, stats %+v", len(ents), stats)
	}
}

// TestExtractDeepTree goes down a chain of directories deeper than the
// number parentOf keeps open, back up, and into a sibling, and checks
// that every file lands where it belongs and no descriptor is left open.
func TestExtractDeepTree(t *testing.T) {
	_, target, _ := newTarget(t)
	var hdrs []entry
	p := ""
	var files []string
	for i := range maxOpenDirs + 20 {
		p = filepath.Join(p, fmt.Sprintf("d%02d", i))
		hdrs = append(hdrs, dir(p, 0o755))
		f := filepath.Join(p, "f")
		hdrs = append(hdrs, reg(f, f, 0o644))
		files = append(files, f)
	}
	for _, f := range []string{"d00/d01/g", "d00/e/h", "z"} {
		hdrs = append(hdrs, reg(f, f, 0o644))
		files = append(files, f)
	}
	before := openFDs(t)
	if _, err := extract(t, archive(t, hdrs...), target, Options{}); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after Extract, %d before", after, before)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(target, f))
		if err != nil || string(got) != f {
			t.Fatalf("%s: %q, %v; want its own name as content", f, got, err)
		}
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// Issue 17.9: from an unauthenticated archive, device nodes are created
// only below dev/ and never writable by group or others; each one skipped
// is named, and the rest of the archive is extracted.
func TestExtractUntrustedDevices(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("device nodes need root")
	}
	_, target, _ := newTarget(t)
	data := archive(t,
		node("dev/", tar.TypeDir, 0o755, 0, 0),
		node("dev/tty0", tar.TypeChar, 0o620, 4, 0),
		node("dev/null", tar.TypeChar, 0o666, 1, 3),
		node("dev/sda", tar.TypeBlock, 0o640, 8, 0),
		node("home/u/mem", tar.TypeChar, 0o600, 1, 1),
		node("srv/disk", tar.TypeBlock, 0o600, 8, 0),
		node("srv/fifo", tar.TypeFifo, 0o666, 0, 0),
	)
	refused := map[string]string{}
	stats, err := extract(t, data, target, Options{Devices: true, UntrustedDevices: true,
		Refused: func(name, why string) { refused[name] = why }})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	want := map[string]string{
		"dev/tty0":   "a device node writable by group or others (mode 0620)",
		"dev/null":   "a device node writable by group or others (mode 0666)",
		"home/u/mem": "a device node outside dev/",
		"srv/disk":   "a device node outside dev/",
	}
	if !maps.Equal(refused, want) {
		t.Errorf("refused %v, want %v", refused, want)
	}
	if stats.Refused != 4 || stats.Others != 2 {
		t.Errorf("stats = %+v, want 4 refused, 2 others (dev/sda, the fifo)", stats)
	}
	for _, name := range slices.Collect(maps.Keys(want)) {
		if _, err := os.Lstat(filepath.Join(target, name)); !os.IsNotExist(err) {
			t.Errorf("refused %s exists: %v", name, err)
		}
	}
	if fi, st := lstat(t, filepath.Join(target, "dev/sda")); fi.Mode() != fs.ModeDevice|0o640 || st.Rdev != unix.Mkdev(8, 0) {
		t.Errorf("dev/sda: mode %v rdev %#x", fi.Mode(), st.Rdev)
	}

	// Trusted (a snapshot's stream): every node as stored.
	_, target, _ = newTarget(t)
	stats, err = extract(t, data, target, Options{Devices: true})
	if err != nil || stats.Refused != 0 || stats.Others != 6 {
		t.Fatalf("trusted: %+v, %v", stats, err)
	}
}

// blocks returns the bytes a file takes on disk.
func blocks(t *testing.T, p string) int64 {
	t.Helper()
	_, st := lstat(t, p)
	return st.Blocks * 512
}

// Issue 18.10: a GNU sparse member (one data byte in 1 MiB) comes back
// with its holes: its content, and a few blocks on disk.
func TestExtractSparseMember(t *testing.T) {
	_, target, _ := newTarget(t)
	if _, err := extract(t, sparse(t), target, Options{}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(target, "sparse")
	b, err := os.ReadFile(p)
	want := make([]byte, 1<<20)
	want[0] = 's'
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("content of the sparse member: %d bytes, %v", len(b), err)
	}
	if n := blocks(t, p); n > 64<<10 {
		t.Errorf("the sparse member takes %d bytes on disk, want its holes kept", n)
	}
}

// Issue 18.10: runs of zeros become holes, wherever they are (start,
// middle, end, a partial last block), and the content is exact.
func TestExtractKeepsHoles(t *testing.T) {
	const size = 8<<20 + 100
	data := make([]byte, size)
	for _, off := range []int{5 << 20, 5<<20 + 4096, 7<<20 + 17} { // two data blocks side by side, one unaligned
		copy(data[off:], "data here")
	}
	dense := bytes.Repeat([]byte{1}, 3*holeBlock+5)
	_, target, _ := newTarget(t)
	if _, err := extract(t, archive(t, reg("sparse", string(data), 0o644), reg("dense", string(dense), 0o644), reg("zeros", string(make([]byte, 3000)), 0o644)), target, Options{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"sparse": data, "dense": dense, "zeros": make([]byte, 3000)} {
		if b, err := os.ReadFile(filepath.Join(target, name)); err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s: content differs (%d bytes, %v)", name, len(b), err)
		}
	}
	if n := blocks(t, filepath.Join(target, "sparse")); n > 64<<10 {
		t.Errorf("sparse takes %d bytes on disk, want about 3 blocks", n)
	}
	if n := blocks(t, filepath.Join(target, "dense")); n < int64(len(dense)) {
		t.Errorf("dense takes %d bytes on disk, fewer than its %d", n, len(dense))
	}
}
