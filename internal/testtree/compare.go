//go:build linux

package testtree

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Options tune Compare.
type Options struct {
	IgnoreOwner    bool // don't compare uid/gid
	IgnoreRootDir  bool // don't compare the mode/mtime of dir itself
	IgnoreDirMtime bool // don't compare directory mtimes
	// Subset lets got lack paths of want (but not have paths want lacks):
	// got is compared with the same paths of want, whose hardlink groups
	// are cut down to the paths in got.
	Subset bool
}

// Compare walks want and got and returns nil if they are identical, otherwise
// an error describing the first difference in bytewise path order, such as
// "path/x: mode 0644 != 0600" (want != got), "path/y: missing in got" or
// "path/z: content differs at byte 4096". Paths in messages are relative to
// the roots; the roots themselves are called ".".
//
// Compare checks the set of paths, entry types, permission bits including
// setuid, setgid and sticky, mtimes with nanoseconds for every type (symlinks
// are not followed), regular file contents (streamed), symlink targets,
// hardlink structure (the partition of non-directory paths into inodes must
// be the same in both trees; a difference is reported at the first path whose
// group of links differs, listing both groups), device numbers and, unless
// opt.IgnoreOwner, uid and gid.
func Compare(want, got string, opt Options) error {
	we, err := scan(want)
	if err != nil {
		return err
	}
	ge, err := scan(got)
	if err != nil {
		return err
	}
	if opt.Subset {
		restrict(we, ge)
	}
	for i, j := 0, 0; i < len(we) || j < len(ge); {
		switch {
		case j == len(ge) || (i < len(we) && we[i].rel < ge[j].rel):
			if opt.Subset {
				i++
				continue
			}
			return fmt.Errorf("%s: missing in got", display(we[i].rel))
		case i == len(we) || ge[j].rel < we[i].rel:
			return fmt.Errorf("%s: unexpected in got", display(ge[j].rel))
		}
		if err := compareEntry(want, got, we[i], ge[j], opt); err != nil {
			return err
		}
		i, j = i+1, j+1
	}
	return nil
}

// Hash returns a hex SHA-256 over the whole tree below dir, including dir
// itself: paths, types, permission bits, uid/gid, mtimes, sizes, contents,
// symlink targets, device numbers and hardlink grouping. Access times and
// directory sizes are left out. It is meant to prove that a command changed
// nothing in a tree.
func Hash(dir string) (string, error) {
	entries, err := scan(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, e := range entries {
		st := &e.st
		hashString(h, e.rel)
		hashUint(h, uint64(st.Mode), uint64(st.Uid), uint64(st.Gid),
			uint64(st.Mtim.Sec), uint64(st.Mtim.Nsec), uint64(st.Rdev))
		if !e.isDir() {
			hashUint(h, uint64(st.Size))
			links := e.links()
			hashUint(h, uint64(len(links)))
			hashString(h, links[0])
		}
		hashString(h, e.target)
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			if err := hashContent(h, filepath.Join(dir, e.rel), st.Size); err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// entry is one path of a scanned tree.
type entry struct {
	rel    string // slash-separated path relative to the root; "" for the root
	st     unix.Stat_t
	target string    // symlink target
	group  *[]string // sorted paths sharing this inode if it has several links
}

// links returns the sorted paths in the tree that share e's inode, including
// e itself.
func (e *entry) links() []string {
	if e.group == nil {
		return []string{e.rel}
	}
	return *e.group
}

func (e *entry) isDir() bool { return e.st.Mode&unix.S_IFMT == unix.S_IFDIR }

// display names a relative path in messages.
func display(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// scan lstats every path below root (and root itself) and returns the
// entries in bytewise path order with hardlink groups filled in. Only
// metadata is held in memory.
func scan(root string) ([]*entry, error) {
	var out []*entry
	var walk func(rel string) error
	walk = func(rel string) error {
		p := filepath.Join(root, rel)
		e := &entry{rel: rel}
		if err := unix.Lstat(p, &e.st); err != nil {
			return &fs.PathError{Op: "lstat", Path: p, Err: err}
		}
		out = append(out, e)
		switch e.st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			t, err := os.Readlink(p)
			e.target = t
			return err
		case unix.S_IFDIR:
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			names, err := f.Readdirnames(-1)
			f.Close()
			if err != nil {
				return err
			}
			for _, n := range names {
				if err := walk(path.Join(rel, n)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *entry) int { return strings.Compare(a.rel, b.rel) })
	groups := make(map[[2]uint64]*[]string)
	for _, e := range out {
		if e.isDir() || e.st.Nlink < 2 {
			continue
		}
		key := [2]uint64{uint64(e.st.Dev), uint64(e.st.Ino)}
		g := groups[key]
		if g == nil {
			g = new([]string)
			groups[key] = g
		}
		*g = append(*g, e.rel) // out is sorted, so every group is too
		e.group = g
	}
	return out, nil
}

// restrict cuts the hardlink groups of want down to the paths in got.
func restrict(want, got []*entry) {
	in := make(map[string]bool, len(got))
	for _, e := range got {
		in[e.rel] = true
	}
	cut := map[*[]string]*[]string{}
	for _, e := range want {
		if e.group == nil {
			continue
		}
		if cut[e.group] == nil {
			g := slices.DeleteFunc(slices.Clone(*e.group), func(p string) bool { return !in[p] })
			cut[e.group] = &g
		}
		e.group = cut[e.group]
	}
}

// typeName names the file type in st.
func typeName(st *unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "char device"
	case unix.S_IFBLK:
		return "block device"
	}
	return fmt.Sprintf("type %#o", st.Mode&unix.S_IFMT)
}

// compareEntry compares two entries with the same relative path.
func compareEntry(wantRoot, gotRoot string, w, g *entry, opt Options) error {
	name := display(w.rel)
	ws, gs := &w.st, &g.st
	if wt, gt := typeName(ws), typeName(gs); wt != gt {
		return fmt.Errorf("%s: type %s != %s", name, wt, gt)
	}
	skipRoot := w.rel == "" && opt.IgnoreRootDir
	if wp, gp := ws.Mode&0o7777, gs.Mode&0o7777; wp != gp && !skipRoot {
		return fmt.Errorf("%s: mode 0%03o != 0%03o", name, wp, gp)
	}
	if !opt.IgnoreOwner {
		if ws.Uid != gs.Uid {
			return fmt.Errorf("%s: uid %d != %d", name, ws.Uid, gs.Uid)
		}
		if ws.Gid != gs.Gid {
			return fmt.Errorf("%s: gid %d != %d", name, ws.Gid, gs.Gid)
		}
	}
	switch ws.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if ws.Size != gs.Size {
			return fmt.Errorf("%s: size %d != %d", name, ws.Size, gs.Size)
		}
		off, err := firstDiff(filepath.Join(wantRoot, w.rel), filepath.Join(gotRoot, g.rel))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if off >= 0 {
			return fmt.Errorf("%s: content differs at byte %d", name, off)
		}
	case unix.S_IFLNK:
		if w.target != g.target {
			return fmt.Errorf("%s: symlink target %q != %q", name, w.target, g.target)
		}
	case unix.S_IFCHR, unix.S_IFBLK:
		if ws.Rdev != gs.Rdev {
			return fmt.Errorf("%s: device %d:%d != %d:%d", name,
				unix.Major(uint64(ws.Rdev)), unix.Minor(uint64(ws.Rdev)),
				unix.Major(uint64(gs.Rdev)), unix.Minor(uint64(gs.Rdev)))
		}
	}
	if wl, gl := w.links(), g.links(); !slices.Equal(wl, gl) {
		return fmt.Errorf("%s: hardlink group %q != %q", name, wl, gl)
	}
	skipMtime := skipRoot || (w.isDir() && opt.IgnoreDirMtime)
	if ws.Mtim != gs.Mtim && !skipMtime {
		return fmt.Errorf("%s: mtime %s != %s", name, formatTime(ws.Mtim), formatTime(gs.Mtim))
	}
	return nil
}

// formatTime formats ts in UTC with all nine digits of nanoseconds.
func formatTime(ts unix.Timespec) string {
	return time.Unix(ts.Unix()).UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// firstDiff streams both files and returns the offset of the first differing
// byte, or -1 if the contents are equal. A file that ends early differs at
// its length.
func firstDiff(a, b string) (int64, error) {
	fa, err := os.Open(a)
	if err != nil {
		return 0, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return 0, err
	}
	defer fb.Close()
	const chunk = 64 << 10
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for off := int64(0); ; {
		na, erra := io.ReadFull(fa, ba)
		nb, errb := io.ReadFull(fb, bb)
		if err := readErr(erra); err != nil {
			return 0, err
		}
		if err := readErr(errb); err != nil {
			return 0, err
		}
		n := min(na, nb)
		for i := range n {
			if ba[i] != bb[i] {
				return off + int64(i), nil
			}
		}
		if na != nb {
			return off + int64(n), nil
		}
		if na < chunk {
			return -1, nil
		}
		off += int64(na)
	}
}

// readErr drops the errors io.ReadFull uses to report a short final read.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// hashContent feeds the content of the regular file p into h and fails if
// its length is not size.
func hashContent(h hash.Hash, p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s: size changed while hashing (%d != %d)", p, n, size)
	}
	return nil
}

// hashString writes s to h with a length prefix, so fields cannot run into
// each other.
func hashString(h hash.Hash, s string) {
	hashUint(h, uint64(len(s)))
	io.WriteString(h, s)
}

// hashUint writes each value to h as 8 little-endian bytes.
func hashUint(h hash.Hash, vs ...uint64) {
	var b [8]byte
	for _, v := range vs {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
}
