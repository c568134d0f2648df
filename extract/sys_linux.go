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

// atParent opens the directory holding the cleaned name through the root
// and calls fn with its descriptor and the base name, for the *at system
// calls that os.Root does not wrap. The parent has been checked to be a
// real directory; O_DIRECTORY makes sure it still is.
func (x *extractor) atParent(name string, fn func(dirfd int, base string) error) error {
	dir, base := split(name)
	d, err := x.root.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("open parent: %w", err)
	}
	defer d.Close()
	return fn(int(d.Fd()), base)
}

// setXattrs sets the SCHILY.xattr records of pax on base in dirfd, without
// following a symlink. Attributes the file system or the caller may not set
// (EOPNOTSUPP, EPERM) are skipped; other failures are errors.
func setXattrs(dirfd int, base string, pax map[string]string) error {
	p := "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + base
	for k, v := range pax {
		attr, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok {
			continue
		}
		err := unix.Lsetxattr(p, attr, []byte(v), 0)
		if err != nil && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EPERM) {
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
