//go:build linux

package extract

import (
	"archive/tar"
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// attrs is what the archive says about an entry's inode besides its
// content. It is kept for directories until the end of the extraction.
type attrs struct {
	entry        string // name as written in the archive, for errors
	name         string // cleaned name below the root
	mode         os.FileMode
	uid, gid     int
	atime, mtime time.Time
	symlink      bool
}

// attrsOf collects the attributes of h for the entry at name.
func attrsOf(name string, h *tar.Header) attrs {
	atime := h.AccessTime
	if atime.IsZero() {
		atime = h.ModTime
	}
	return attrs{
		name: name,
		// FileInfo maps the tar mode's setuid, setgid and sticky bits to
		// their os.FileMode counterparts, which is what Root.Chmod takes.
		mode:    h.FileInfo().Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky),
		uid:     h.Uid,
		gid:     h.Gid,
		atime:   atime,
		mtime:   h.ModTime,
		symlink: h.Typeflag == tar.TypeSymlink,
	}
}

// setAttrs applies a and the xattrs among pax to the entry a.name, without
// following it if it is a symlink. The order matters: chown clears setuid
// and file capabilities, so it comes before xattrs and chmod; times come
// last.
func (x *extractor) setAttrs(a attrs, pax map[string]string) error {
	d, base, err := x.parentOf(a.name)
	if err != nil {
		return err
	}
	if x.opt.Owners {
		if err := d.root.Lchown(base, a.uid, a.gid); err != nil {
			return fmt.Errorf("set owner: %w", err)
		}
	}
	if err := setXattrs(d.fd(), base, pax); err != nil {
		return err
	}
	if !a.symlink {
		if err := d.root.Chmod(base, a.mode); err != nil {
			return fmt.Errorf("set mode: %w", err)
		}
	}
	return setTimes(d.fd(), base, a.atime, a.mtime)
}

// fileAttrs applies a's owner, the mode of h (whose permission, setuid,
// setgid and sticky bits are chmod(2)'s) and the xattrs among h's PAX
// records to the regular file open as fd, in setAttrs's order; the times
// are set once it is closed.
func (x *extractor) fileAttrs(fd int, a attrs, h *tar.Header) error {
	if x.opt.Owners {
		if err := unix.Fchown(fd, a.uid, a.gid); err != nil {
			return fmt.Errorf("set owner: %w", err)
		}
	}
	if err := setFileXattrs(fd, h.PAXRecords); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, uint32(h.Mode&0o7777)); err != nil {
		return fmt.Errorf("set mode: %w", err)
	}
	return nil
}

// fixDirs applies the recorded directory attributes, deepest first, so that
// a directory's mode never blocks and its children never touch its times.
func (x *extractor) fixDirs() error {
	slices.SortFunc(x.dirs, func(a, b attrs) int { return cmp.Compare(depth(b.name), depth(a.name)) })
	for _, d := range x.dirs {
		if err := x.setAttrs(d, nil); err != nil {
			return &EntryError{Name: d.entry, Err: err}
		}
	}
	return nil
}

// depth is the number of components of a cleaned name, 0 for the root.
func depth(name string) int {
	if name == "." {
		return 0
	}
	return strings.Count(name, "/") + 1
}
