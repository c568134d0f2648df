package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ErrChanged is wrapped by the warning for an entry that was replaced by
// another object between the walk's look at it and its opening: it is left
// out of the snapshot, which is marked incomplete.
var ErrChanged = errors.New("changed during the backup")

// testHookOpen, when set, runs just before an entry is opened, after the
// walk has looked at it.
var testHookOpen func(rel string)

// openEntry opens e relative to its parent directory with flags added to
// O_RDONLY, without following a symlink, blocking on a FIFO or device,
// or (where the owner allows) updating its access time, and checks that
// what it opened is the object the walk saw: the same device, inode and
// type. Anything else is ErrChanged and is closed at once.
func openEntry(e *entry, flags int) (*os.File, error) {
	if testHookOpen != nil {
		testHookOpen(e.rel)
	}
	flags |= unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := openat(e.parent, e.name, flags|unix.O_NOATIME)
	if err == unix.EPERM {
		// O_NOATIME needs the file's owner (or CAP_FOWNER).
		fd, err = openat(e.parent, e.name, flags)
	}
	switch err {
	case nil:
	case unix.ENOENT:
		return nil, errors.New("vanished before it could be read")
	case unix.ELOOP, unix.ENOTDIR:
		// O_NOFOLLOW met a symlink, or O_DIRECTORY something else.
		return nil, changed("it is no longer a " + kindOf(e.st.Mode))
	default:
		return nil, &fs.PathError{Op: "open", Path: e.abs, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "fstat", Path: e.abs, Err: err}
	}
	if uint64(st.Dev) != uint64(e.st.Dev) || uint64(st.Ino) != uint64(e.st.Ino) || st.Mode&unix.S_IFMT != e.st.Mode&unix.S_IFMT {
		unix.Close(fd)
		return nil, changed("a " + kindOf(st.Mode) + " replaced the " + kindOf(e.st.Mode))
	}
	return os.NewFile(uintptr(fd), e.abs), nil
}

func openat(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func changed(why string) error {
	return fmt.Errorf("%w (%s); not saved", ErrChanged, why)
}

// kindOf names the file type of an st_mode.
func kindOf(m uint32) string {
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFSOCK:
		return "socket"
	}
	return "file of unknown type"
}

// readlink returns the target of the symlink e, relative to its parent.
func readlink(e *entry) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(e.parent, e.name, buf)
		if err == unix.EINVAL {
			return "", changed("it is no longer a symlink")
		}
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: e.abs, Err: err}
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}
