package stage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// copyFile copies a regular file's body and metadata.
func copyFile(src, dst string, info fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("failed to stage %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("failed to stage %s: %w", src, err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("failed to copy %s: %w", src, err)
	}
	return setMeta(src, dst, info)
}

// copySymlink recreates a symbolic link with its metadata.
func copySymlink(src, dst string, info fs.FileInfo) error {
	target, err := os.Readlink(src)
	if err == nil {
		err = os.Symlink(target, dst)
	}
	if err != nil {
		return fmt.Errorf("failed to stage %s: %w", src, err)
	}
	return setMeta(src, dst, info)
}

// setMeta gives dst src's xattrs, owner (when root), mode (but a
// symlink's) and times, without following a symlink. The mode comes after
// the owner: chown clears the setuid and setgid bits.
func setMeta(src, dst string, info fs.FileInfo) error {
	st := info.Sys().(*syscall.Stat_t)
	err := copyXattrs(src, dst)
	if err == nil && os.Geteuid() == 0 {
		err = os.Lchown(dst, int(st.Uid), int(st.Gid))
	}
	if err == nil && info.Mode()&fs.ModeSymlink == 0 {
		err = unix.Chmod(dst, st.Mode&0o7777)
	}
	if err == nil {
		ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
		err = unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fmt.Errorf("failed to copy the metadata of %s: %w", src, err)
	}
	return nil
}

// copyXattrs copies src's extended attributes to dst. A filesystem
// without xattrs has none to copy.
func copyXattrs(src, dst string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(src, buf); err != nil {
		return err
	}
	for name := range strings.SplitSeq(string(buf[:size]), "\x00") {
		if name == "" {
			continue
		}
		val, err := xattr(src, name)
		if err == nil {
			err = unix.Lsetxattr(dst, name, val, 0)
		}
		if err != nil {
			return fmt.Errorf("xattr %s: %w", name, err)
		}
	}
	return nil
}

func xattr(path, name string) ([]byte, error) {
	size, err := unix.Lgetxattr(path, name, nil)
	if err != nil {
		return nil, err
	}
	val := make([]byte, size)
	size, err = unix.Lgetxattr(path, name, val)
	return val[:size], err
}
