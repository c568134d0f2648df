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
// system call each instead of a lookup from the top, and as a raw
// descriptor for the *at system calls that os.Root does not wrap (an
// *os.File would cost four fcntl and a failed epoll_ctl to set up).
type parentDir struct {
	name  string
	root  *os.Root
	dirfd int
}

func (d *parentDir) fd() int { return d.dirfd }

func (d *parentDir) close() {
	if d.root != nil {
		unix.Close(d.dirfd)
		d.root.Close()
		*d = parentDir{}
	}
}

// openDir returns the directory open as fd, which it takes over, under
// name. Its os.Root is opened through /proc/self/fd, so the two are the
// same directory whatever happens to its path meanwhile.
func openDir(fd int, name string) (parentDir, error) {
	r, err := os.OpenRoot("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		unix.Close(fd)
		return parentDir{}, err
	}
	return parentDir{name: name, root: r, dirfd: fd}, nil
}

// maxOpenDirs bounds how many directories parentOf keeps open (two
// descriptors each). Deeper than that, the rest of a path is looked up in
// one go from the deepest one kept.
const maxOpenDirs = 64

// parentOf returns the directory holding the cleaned name, opened through
// the root (so never through a symlink), and the name's base. Entries come
// in stream order, depth first, so the directories from the top down to
// the last entry's parent are kept open: reaching the next entry's parent
// costs one lookup per directory entered, never a walk from the top. Each
// parent has been checked to be a real directory; nothing extracted can
// replace a directory later.
func (x *extractor) parentOf(name string) (*parentDir, string, error) {
	dir, base := split(name)
	for n := len(x.open); n > 0; n-- {
		top := x.open[n-1].name
		if top == dir || top == "." || strings.HasPrefix(dir, top+"/") {
			break
		}
		x.open[n-1].close()
		x.open = x.open[:n-1]
	}
	for {
		from, rel := &x.top, "."
		if n := len(x.open); n > 0 {
			top := x.open[n-1]
			if top.name == dir {
				return &x.open[n-1], base, nil
			}
			from, rel = &x.open[n-1], strings.TrimPrefix(dir, top.name+"/")
			if top.name == "." {
				rel = dir
			}
		}
		if len(x.open) < maxOpenDirs-1 {
			rel, _, _ = strings.Cut(rel, "/")
		}
		if err := x.enter(from.fd(), rel); err != nil {
			return nil, "", err
		}
	}
}

// enter opens rel under the directory fd and pushes it onto the open
// directories. Each component of rel is opened on its own, without
// following a symlink, so the directory is below fd.
func (x *extractor) enter(fd int, rel string) error {
	name := rel
	if n := len(x.open); n > 0 && x.open[n-1].name != "." {
		name = x.open[n-1].name + "/" + rel
	}
	for _, c := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if fd != x.top.fd() && (len(x.open) == 0 || fd != x.open[len(x.open)-1].fd()) {
			unix.Close(fd) // an intermediate component of rel
		}
		if err != nil {
			return fmt.Errorf("open parent: %w", &os.PathError{Op: "openat", Path: name, Err: err})
		}
		fd = next
	}
	d, err := openDir(fd, name)
	if err != nil {
		return fmt.Errorf("open parent: %w", err)
	}
	x.open = append(x.open, d)
	return nil
}

// closeDirs closes the directories parentOf keeps open.
func (x *extractor) closeDirs() {
	for i := range x.open {
		x.open[i].close()
	}
	x.open = nil
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

// setFileXattrs sets the SCHILY.xattr records of pax on the open file fd.
func setFileXattrs(fd int, pax map[string]string) error {
	return applyXattrs(pax, func(attr string, v []byte) error { return unix.Fsetxattr(fd, attr, v, 0) })
}

// copyBuf is the size of the buffer file data is copied through (see
// copyHoles).
const copyBuf = 128 << 10

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
