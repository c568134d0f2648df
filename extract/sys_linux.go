package extract

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// xattrPrefix starts the PAX record keys that carry extended attributes.
const xattrPrefix = "SCHILY.xattr."

// parentDir is a directory of the tree held open: as an os.Root of its
// own, so that the entries in it are reached by their base names with one
// system call each instead of a lookup from the top, and as a descriptor
// for the *at system calls that os.Root does not wrap.
type parentDir struct {
	name string
	root *os.Root
	dir  *os.File
}

func (d *parentDir) fd() int { return int(d.dir.Fd()) }

func (d *parentDir) close() {
	if d.root != nil {
		d.dir.Close()
		d.root.Close()
		*d = parentDir{}
	}
}

// parentOf returns the directory holding the cleaned name, opened through
// the root (so never through a symlink), and the name's base. Entries come
// in stream order, directory by directory, so the last one is kept open.
// The parent has been checked to be a real directory; nothing extracted
// can replace a directory later.
func (x *extractor) parentOf(name string) (*parentDir, string, error) {
	dir, base := split(name)
	if x.parent.root != nil && x.parent.name == dir {
		return &x.parent, base, nil
	}
	// Going down from the open directory costs one lookup per level;
	// anywhere else is looked up from the top.
	from, rel := x.root, dir
	if sub, ok := strings.CutPrefix(dir, x.parent.name+"/"); ok && x.parent.root != nil && x.parent.name != "." {
		from, rel = x.parent.root, sub
	} else if x.parent.name == "." && x.parent.root != nil {
		from = x.parent.root
	}
	r, err := from.OpenRoot(rel)
	x.parent.close()
	if err != nil {
		return nil, "", fmt.Errorf("open parent: %w", err)
	}
	d, err := r.OpenFile(".", os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		r.Close()
		return nil, "", fmt.Errorf("open parent: %w", err)
	}
	x.parent = parentDir{name: dir, root: r, dir: d}
	return &x.parent, base, nil
}

// atParent calls fn with the descriptor of the directory holding the
// cleaned name and the name's base.
func (x *extractor) atParent(name string, fn func(dirfd int, base string) error) error {
	d, base, err := x.parentOf(name)
	if err != nil {
		return err
	}
	return fn(d.fd(), base)
}

// setXattrs sets the SCHILY.xattr records of pax on base in dirfd, without
// following a symlink.
func setXattrs(dirfd int, base string, pax map[string]string) error {
	p := "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + base
	return applyXattrs(pax, func(attr string, v []byte) error { return unix.Lsetxattr(p, attr, v, 0) })
}

// setFileXattrs sets the SCHILY.xattr records of pax on the open file f.
func setFileXattrs(f *os.File, pax map[string]string) error {
	return applyXattrs(pax, func(attr string, v []byte) error { return unix.Fsetxattr(int(f.Fd()), attr, v, 0) })
}

// applyXattrs sets each SCHILY.xattr record of pax with set. Attributes
// the file system or the caller may not set (EOPNOTSUPP, EPERM) are
// skipped; other failures are errors.
func applyXattrs(pax map[string]string, set func(attr string, value []byte) error) error {
	for k, v := range pax {
		attr, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok {
			continue
		}
		if err := set(attr, []byte(v)); err != nil && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("set xattr %q: %w", attr, err)
		}
	}
	return nil
}

// setTimes sets the access and modification times of base in dirfd with
// nanoseconds, without following a symlink.
func setTimes(dirfd int, base string, atime, mtime time.Time) error {
	a, err := unix.TimeToTimespec(atime)
	if err != nil {
		return fmt.Errorf("access time: %w", err)
	}
	m, err := unix.TimeToTimespec(mtime)
	if err != nil {
		return fmt.Errorf("modification time: %w", err)
	}
	if err := unix.UtimesNanoAt(dirfd, base, []unix.Timespec{a, m}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}
