//go:build linux

package extract

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Options selects the parts of an extraction that need privileges.
type Options struct {
	// Owners restores numeric uid/gid (Lchown). Set when running as root.
	Owners bool
	// Devices allows character/block device entries (needs root). When false such an entry is an error.
	Devices bool
	// Root, when set, is the directory every entry lies under (a db
	// archive's "db/"): its contents are created in the target, and an
	// entry outside it is an error.
	Root string
	// UntrustedDevices, for a stream whose author is not authenticated (a
	// classic archive), creates device nodes only below dev/ and only when
	// neither group nor others may write them; any other device node is
	// skipped, counted in Stats.Refused and passed to Refused.
	UntrustedDevices bool
	// Refused, if not nil, is told each device node UntrustedDevices
	// skipped, and why.
	Refused func(name, why string)
}

// Stats counts what Extract created. Entries is the number of entries
// extracted (global PAX headers are not entries) and the sum of the per-type
// counts; Others counts fifos and device nodes; Refused counts the device
// nodes Options.UntrustedDevices skipped, which are not entries; Bytes is
// the regular-file data written.
type Stats struct {
	Entries, Files, Dirs, Symlinks, Hardlinks, Others, Refused int
	Bytes                                                      int64
}

// EntryError names the tar entry at fault and why.
type EntryError struct {
	// Name is the entry's name as written in the archive.
	Name string
	// Err is the reason, often wrapping ErrUnsafePath or ErrUnsupported.
	Err error
}

// Error reports the entry name and the reason.
func (e *EntryError) Error() string { return fmt.Sprintf("entry %q: %v", e.Name, e.Err) }

// Unwrap returns the reason.
func (e *EntryError) Unwrap() error { return e.Err }

var (
	// ErrUnsafePath is the reason for an entry name or hardlink target that
	// is empty, absolute, contains NUL or a ".." component, or that would be
	// reached through a symlink.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrUnsupported is the reason for an entry type that Extract does not
	// create, a device entry without
	// Options.Devices, or a hardlink to something other than a regular file.
	ErrUnsupported = errors.New("unsupported entry")
)

// Extract reads the tar stream r and creates its entries below dir, which must exist and be empty.
//
// It stops at the first error, leaving what it created so far in place,
// and returns the counts up to that point. Errors about one entry are
// *EntryError values. ctx is checked between entries.
func Extract(ctx context.Context, r io.Reader, dir string, opt Options) (Stats, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Stats{}, fmt.Errorf("open target: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	top, err := openDir(fd, ".")
	if err != nil {
		unix.Close(fd)
		return Stats{}, fmt.Errorf("open target: %w", err)
	}
	defer top.close()
	if err := checkEmpty(top.root, dir); err != nil {
		return Stats{}, err
	}
	x := &extractor{root: top.root, top: top, opt: opt, dirIndex: make(map[string]int), realDirs: make(map[string]bool)}
	defer x.closeDirs()
	if err := x.run(ctx, tar.NewReader(r)); err != nil {
		return x.stats, err
	}
	return x.stats, x.fixDirs()
}

// checkEmpty fails unless the root directory, dir, has no entries.
func checkEmpty(root *os.Root, dir string) error {
	d, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("open target: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("read target: %w", err)
	}
	if len(names) > 0 {
		return fmt.Errorf("target %s is not empty", dir)
	}
	return nil
}

// extractor holds the state of one extraction.
type extractor struct {
	root  *os.Root
	top   parentDir // the root, as the first directory parentOf enters from
	opt   Options
	stats Stats
	// dirs are the directory entries whose attributes are set at the end;
	// dirIndex maps a cleaned name to its place in dirs.
	dirs     []attrs
	dirIndex map[string]int
	// realDirs are the paths found to be real directories (not
	// symlinks). Nothing extracted can later replace a directory, so they
	// stay valid.
	realDirs map[string]bool
	// open are the directories from the top of the tree down to the one
	// the last entry went into, held open; see parentOf.
	open []parentDir
	// buf carries file data, reused from file to file.
	buf []byte
}

// run extracts every entry of tr, checking ctx before each.
func (x *extractor) run(ctx context.Context, tr *tar.Reader) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar header: %w", err)
		}
		if err := x.entry(h, tr); err != nil {
			return &EntryError{Name: h.Name, Err: err}
		}
	}
}

// entry validates the name of h, makes its parent directories and creates it.
func (x *extractor) entry(h *tar.Header, data io.Reader) error {
	if h.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := x.entryName(h.Name)
	if err != nil {
		return err
	}
	if why := x.refuse(name, h); why != "" {
		x.stats.Refused++
		if x.opt.Refused != nil {
			x.opt.Refused(h.Name, why)
		}
		return nil
	}
	if err := x.parents(name, true); err != nil {
		return err
	}
	count, err := x.create(name, h, data)
	if err != nil {
		return err
	}
	*count++
	x.stats.Entries++
	return nil
}

// create makes the entry h at name and returns the counter it belongs to.
// The tar reader has already turned the legacy '\x00' type into TypeReg
// or, for names ending in a slash, TypeDir.
func (x *extractor) create(name string, h *tar.Header, data io.Reader) (*int, error) {
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse: // the tar reader fills the holes of an old GNU sparse member
		return &x.stats.Files, x.file(name, h, data)
	case tar.TypeDir:
		return &x.stats.Dirs, x.dir(name, h)
	case tar.TypeSymlink:
		return &x.stats.Symlinks, x.symlink(name, h)
	case tar.TypeLink:
		return &x.stats.Hardlinks, x.hardlink(name, h)
	case tar.TypeFifo:
		return &x.stats.Others, x.node(name, h, unix.S_IFIFO)
	case tar.TypeChar:
		return &x.stats.Others, x.device(name, h, unix.S_IFCHR)
	case tar.TypeBlock:
		return &x.stats.Others, x.device(name, h, unix.S_IFBLK)
	}
	return nil, fmt.Errorf("type flag %q: %w", h.Typeflag, ErrUnsupported)
}

// file creates a regular file, which must not exist yet, and writes its
// data. Blocks of zeros become holes (see copyHoles), so that a sparse
// file comes back sparse, from a snapshot or from a GNU tar sparse member
// alike.
func (x *extractor) file(name string, h *tar.Header, data io.Reader) error {
	d, base, err := x.parentOf(name)
	if err != nil {
		return err
	}
	// A raw descriptor, not an *os.File: a regular file gains nothing from
	// the runtime's poller, and registering with it costs four fcntl and
	// a failed epoll_ctl per file. base is one component below a parent
	// checked to be a real directory; O_EXCL refuses anything already
	// there, a symlink included. O_LARGEFILE, which a raw openat does not
	// add by itself: a 32-bit build would fail with EFBIG at 2 GiB (Issue
	// 21.2; the 386 round trip of scripts/test-cross guards it).
	fd, err := unix.Openat(d.fd(), base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_LARGEFILE, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	if x.buf == nil {
		x.buf = make([]byte, copyBuf)
	}
	n, err := copyHoles(fd, data, h.Size, x.buf)
	x.stats.Bytes += n
	if err == nil && n < h.Size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("write data (%d of %d bytes): %w", n, h.Size, err)
	}
	// The attributes go through the open descriptor: no lookups.
	a := attrsOf(name, h)
	err = x.fileAttrs(fd, a, h)
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err != nil {
		return err
	}
	return setTimes(d.fd(), base, a.atime, a.mtime)
}

// dir creates a directory, or accepts an existing one, sets its xattrs and
// records the rest of its attributes for fixDirs.
func (x *extractor) dir(name string, h *tar.Header) error {
	d, base, err := x.parentOf(name)
	if err != nil {
		return err
	}
	if err := d.root.Mkdir(base, 0o700); err != nil {
		if fi, lerr := d.root.Lstat(base); lerr != nil || !fi.IsDir() {
			return fmt.Errorf("create directory: %w", err)
		}
	}
	if err := setXattrs(d.fd(), base, h.PAXRecords); err != nil {
		return err
	}
	a := attrsOf(name, h)
	a.entry = h.Name
	if i, ok := x.dirIndex[name]; ok {
		x.dirs[i] = a
		return nil
	}
	x.dirIndex[name] = len(x.dirs)
	x.dirs = append(x.dirs, a)
	return nil
}

// symlink creates a symlink to h.Linkname, which is stored as written.
func (x *extractor) symlink(name string, h *tar.Header) error {
	d, base, err := x.parentOf(name)
	if err != nil {
		return err
	}
	if err := d.root.Symlink(h.Linkname, base); err != nil {
		return fmt.Errorf("create symlink: %w", err)
	}
	return x.setAttrs(attrsOf(name, h), h.PAXRecords)
}

// hardlink links name to a regular file extracted earlier. The link shares
// the target's inode, so the header's attributes are not applied.
func (x *extractor) hardlink(name string, h *tar.Header) error {
	target, err := x.entryName(h.Linkname)
	if err != nil {
		return fmt.Errorf("link target: %w", err)
	}
	if err := x.parents(target, false); err != nil {
		return fmt.Errorf("link target: %w", err)
	}
	fi, err := x.root.Lstat(target)
	if err != nil {
		return fmt.Errorf("link target: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("link target %q is not a regular file: %w", h.Linkname, ErrUnsupported)
	}
	if err := x.root.Link(target, name); err != nil {
		return fmt.Errorf("create hardlink: %w", err)
	}
	return nil
}

// refuse says why Options.UntrustedDevices skips the entry h at the
// cleaned name, or "" to create it.
func (x *extractor) refuse(name string, h *tar.Header) string {
	if !x.opt.UntrustedDevices || (h.Typeflag != tar.TypeChar && h.Typeflag != tar.TypeBlock) {
		return ""
	}
	switch {
	case !strings.HasPrefix(name, "dev/"):
		return "a device node outside dev/"
	case h.Mode&0o022 != 0:
		return fmt.Sprintf("a device node writable by group or others (mode %#o)", h.Mode&0o7777)
	}
	return ""
}

// device creates a character or block device if Options.Devices allows it.
func (x *extractor) device(name string, h *tar.Header, kind uint32) error {
	if !x.opt.Devices {
		return fmt.Errorf("device node without Options.Devices: %w", ErrUnsupported)
	}
	return x.node(name, h, kind)
}

// node creates a fifo or device node of the given S_IF* kind.
func (x *extractor) node(name string, h *tar.Header, kind uint32) error {
	dev := unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))
	err := x.atParent(name, func(dirfd int, base string) error {
		return unix.Mknodat(dirfd, base, kind|0o600, int(dev))
	})
	if err != nil {
		return fmt.Errorf("create node: %w", err)
	}
	return x.setAttrs(attrsOf(name, h), h.PAXRecords)
}
