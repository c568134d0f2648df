//go:build linux

package testtree

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Sizes of the large files written by Generate.
const (
	randomSize     = 3 << 20 // incompressible pseudo-random bytes
	textSize       = 2 << 20 // compressible text
	sparseSize     = 8 << 20 // mostly zeros, made with Truncate
	sparseRegions  = 6       // number of 4 KiB data regions in the sparse file
	sparseRegion   = 4 << 10 // size of one data region
	randomDirFiles = 8       // files with seed-derived names in "rand"
)

// Generate creates, below dir (which must exist), a tree containing every
// entry type a backup must round-trip: regular files (small text, empty,
// 3 MiB pseudo-random incompressible, 2 MiB compressible text, an 8 MiB file
// that is mostly zeros), nested directories (depth >= 4), a directory with
// mode 0555 containing a file, files with modes 0600 and 04755 (setuid), a
// sticky 01777 directory, symlinks (relative, absolute, dangling, to a
// directory), a hardlink pair and a hardlink triple, a fifo, unicode and odd
// names, a 200-byte file name, a path longer than 256 bytes and mtimes with
// non-zero nanoseconds on every entry, including dir itself.
//
// The tree is deterministic: the same seed gives the same names, contents,
// modes and mtimes. Generate returns an error instead of failing a test.
func Generate(dir string, seed int64) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("testtree: generate: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("testtree: generate: %s is not a directory", dir)
	}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], uint64(seed))
	copy(key[8:], "pocketsnap/testtree")
	src := rand.NewChaCha8(key)
	g := &generator{root: dir, src: src, rng: rand.New(src)}
	g.build()
	g.finish()
	if g.err != nil {
		return fmt.Errorf("testtree: generate: %w", g.err)
	}
	return nil
}

// dirSpec is a directory whose mode and mtime are applied after everything
// below it has been created.
type dirSpec struct {
	rel   string
	mode  uint32
	mtime unix.Timespec
}

// timeSpec is a non-directory entry whose mtime is applied by finish.
type timeSpec struct {
	rel   string
	mtime unix.Timespec
}

// generator creates the tree. The first error is kept in err and turns all
// later operations into no-ops.
type generator struct {
	root  string
	src   *rand.ChaCha8
	rng   *rand.Rand
	dirs  []dirSpec
	times []timeSpec
	err   error
}

// build lays out the whole tree.
func (g *generator) build() {
	// Plain files of every kind.
	g.mkdir("docs", 0o755)
	g.text("docs/hello.txt", 0o644, fmt.Sprintf("hello from pocketsnap, tree %016x\n", g.rng.Uint64()))
	g.file("docs/empty", 0o644, nil)
	g.mkdir("data", 0o755)
	g.file("data/random.bin", 0o644, g.randomContent(randomSize))
	g.file("data/text.log", 0o644, g.textContent(textSize))
	g.file("data/sparse.img", 0o644, g.sparseContent(sparseSize))

	// Permission bits.
	g.mkdir("perm", 0o755)
	g.text("perm/private.txt", 0o600, "secret\n")
	g.text("perm/setuid-bin", 0o4755, "#!/bin/sh\nexit 0\n")
	g.mkdir("perm/readonly", 0o555)
	g.text("perm/readonly/inside.txt", 0o444, "inside a read-only directory\n")
	g.mkdir("perm/sticky", 0o1777)
	g.text("perm/sticky/tmpfile", 0o666, "in a sticky directory\n")

	// Deep nesting.
	g.mkdir("nested", 0o755)
	g.mkdir("nested/a", 0o750)
	g.mkdir("nested/a/b", 0o755)
	g.mkdir("nested/a/b/c", 0o700)
	g.mkdir("nested/a/b/c/d", 0o755)
	g.text("nested/a/b/c/d/deep.txt", 0o644, "five directories down\n")

	// Symlinks. The absolute target must not depend on dir, so that two trees
	// generated with the same seed are identical.
	g.mkdir("links", 0o755)
	g.symlink("../docs/hello.txt", "links/relative")
	g.symlink("/etc/passwd", "links/absolute")
	g.symlink("missing/nowhere.txt", "links/dangling")
	g.symlink("../nested/a", "links/to-dir")

	// Hardlinks, including links across directories.
	g.mkdir("hard", 0o755)
	g.mkdir("hard/sub", 0o755)
	g.text("hard/pair-a", 0o644, "hardlink pair\n")
	g.link("hard/pair-a", "hard/pair-b")
	g.text("hard/triple-1", 0o640, "hardlink triple\n")
	g.link("hard/triple-1", "hard/sub/triple-2")
	g.link("hard/triple-1", "nested/a/b/triple-3")

	// Special files.
	g.mkdir("special", 0o755)
	g.fifo("special/fifo", 0o644)

	// Unusual names.
	g.mkdir("names", 0o755)
	g.text("names/ünïcødé-日本語.txt", 0o644, "unicode name\n")
	g.text("names/with spaces.txt", 0o644, "spaces\n")
	g.text("names/a b#c%$", 0o644, "odd characters\n")
	g.text("names/-leading-dash", 0o644, "dash\n")
	g.text("names/.hidden", 0o644, "hidden\n")
	g.text("names/"+name200(), 0o644, "200-byte name\n")

	// A path longer than 256 bytes.
	long := "long"
	g.mkdir(long, 0o755)
	for i := range 4 {
		long += "/" + strings.Repeat(string(rune('p'+i)), 70)
		g.mkdir(long, 0o755)
	}
	g.text(long+"/file-at-the-end-of-a-long-path.txt", 0o644, "far away\n")

	// Names, sizes and modes derived from the seed.
	g.mkdir("rand", 0o755)
	modes := []uint32{0o644, 0o640, 0o600, 0o755}
	for range randomDirFiles {
		name := fmt.Sprintf("rand/r-%016x.dat", g.rng.Uint64())
		mode := modes[g.rng.IntN(len(modes))]
		g.file(name, mode, g.randomContent(g.rng.IntN(64<<10)))
	}
}

// name200 returns a file name of exactly 200 bytes.
func name200() string {
	const prefix = "name-of-200-bytes-"
	return prefix + strings.Repeat("0123456789", 20)[:200-len(prefix)]
}

// finish sets the mtimes of all non-directories, then the modes of all
// directories, then the directory mtimes deepest first and dir's last.
func (g *generator) finish() {
	for _, t := range g.times {
		g.setMtime(t.rel, t.mtime)
	}
	for _, d := range g.dirs {
		g.chmod(d.rel, d.mode)
	}
	dirs := slices.Clone(g.dirs)
	slices.SortStableFunc(dirs, func(a, b dirSpec) int {
		return strings.Count(b.rel, "/") - strings.Count(a.rel, "/")
	})
	for _, d := range dirs {
		g.setMtime(d.rel, d.mtime)
	}
	g.setMtime("", g.mtime())
}

// path turns a slash-separated relative name into a path below the root.
func (g *generator) path(rel string) string {
	return filepath.Join(g.root, filepath.FromSlash(rel))
}

// mtime draws a timestamp between 2020 and 2023 whose nanoseconds are not a
// multiple of 1000, so microsecond truncation is detected.
func (g *generator) mtime() unix.Timespec {
	sec := int64(1577836800) + g.rng.Int64N(3*365*86400)
	nsec := 1 + g.rng.Int64N(999_999_998)
	if nsec%1000 == 0 {
		nsec++
	}
	return unix.NsecToTimespec(sec*1e9 + nsec)
}

// mkdir creates a directory; its mode and mtime are applied by finish.
func (g *generator) mkdir(rel string, mode uint32) {
	if g.err != nil {
		return
	}
	if g.err = os.Mkdir(g.path(rel), 0o700); g.err == nil {
		g.dirs = append(g.dirs, dirSpec{rel: rel, mode: mode, mtime: g.mtime()})
	}
}

// file creates a regular file whose content is written by write (nil for an
// empty file) and sets its exact mode.
func (g *generator) file(rel string, mode uint32, write func(*os.File) error) {
	if g.err != nil {
		return
	}
	f, err := os.OpenFile(g.path(rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		g.err = err
		return
	}
	if write != nil {
		err = write(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		g.err = fmt.Errorf("%s: %w", rel, err)
		return
	}
	g.chmod(rel, mode)
	g.stamp(rel)
}

// text creates a regular file holding s.
func (g *generator) text(rel string, mode uint32, s string) {
	g.file(rel, mode, func(f *os.File) error {
		_, err := f.WriteString(s)
		return err
	})
}

// symlink creates rel pointing at target.
func (g *generator) symlink(target, rel string) {
	if g.err != nil {
		return
	}
	if g.err = os.Symlink(target, g.path(rel)); g.err == nil {
		g.stamp(rel)
	}
}

// link makes rel a hardlink of existing; the shared inode keeps its mtime.
func (g *generator) link(existing, rel string) {
	if g.err != nil {
		return
	}
	g.err = os.Link(g.path(existing), g.path(rel))
}

// fifo creates a named pipe with the exact mode.
func (g *generator) fifo(rel string, mode uint32) {
	if g.err != nil {
		return
	}
	if err := unix.Mkfifo(g.path(rel), 0o600); err != nil {
		g.err = fmt.Errorf("mkfifo %s: %w", rel, err)
		return
	}
	g.chmod(rel, mode)
	g.stamp(rel)
}

// stamp draws an mtime for rel, applied by finish.
func (g *generator) stamp(rel string) {
	g.times = append(g.times, timeSpec{rel: rel, mtime: g.mtime()})
}

// chmod sets all 12 permission bits, which os.Chmod cannot express directly.
func (g *generator) chmod(rel string, mode uint32) {
	if g.err != nil {
		return
	}
	if err := unix.Chmod(g.path(rel), mode); err != nil {
		g.err = fmt.Errorf("chmod %s: %w", rel, err)
	}
}

// setMtime sets atime and mtime of rel without following symlinks.
func (g *generator) setMtime(rel string, ts unix.Timespec) {
	if g.err != nil {
		return
	}
	err := unix.UtimesNanoAt(unix.AT_FDCWD, g.path(rel), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		g.err = fmt.Errorf("utimes %s: %w", rel, err)
	}
}

// randomContent returns a writer of n pseudo-random, incompressible bytes.
func (g *generator) randomContent(n int) func(*os.File) error {
	return func(f *os.File) error {
		buf := make([]byte, 64<<10)
		for n > 0 {
			chunk := buf[:min(n, len(buf))]
			_, _ = g.src.Read(chunk) // never fails
			if _, err := f.Write(chunk); err != nil {
				return err
			}
			n -= len(chunk)
		}
		return nil
	}
}

// textContent returns a writer of n bytes of highly compressible text.
func (g *generator) textContent(n int) func(*os.File) error {
	words := []string{"backup", "snapshot", "restore", "chunk", "pack", "index", "tree", "blob", "prune", "check"}
	return func(f *os.File) error {
		w := bufio.NewWriter(f)
		for line, written := 0, 0; written < n; line++ {
			s := fmt.Sprintf("%08d %s %s %s ok\n", line,
				words[g.rng.IntN(len(words))], words[g.rng.IntN(len(words))], words[g.rng.IntN(len(words))])
			s = s[:min(len(s), n-written)]
			if _, err := w.WriteString(s); err != nil {
				return err
			}
			written += len(s)
		}
		return w.Flush()
	}
}

// sparseContent returns a writer that truncates the file to n bytes and fills
// a few 4 KiB regions at seed-derived block offsets with random data.
func (g *generator) sparseContent(n int) func(*os.File) error {
	return func(f *os.File) error {
		if err := f.Truncate(int64(n)); err != nil {
			return err
		}
		buf := make([]byte, sparseRegion)
		for range sparseRegions {
			off := int64(g.rng.IntN(n/sparseRegion)) * sparseRegion
			_, _ = g.src.Read(buf)
			if _, err := f.WriteAt(buf, off); err != nil {
				return err
			}
		}
		return nil
	}
}
