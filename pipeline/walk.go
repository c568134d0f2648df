package pipeline

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// entry is one filesystem object found by the walk.
type entry struct {
	// rel is the slash-separated path relative to the source; "." for the
	// source itself.
	rel string
	// abs is the entry's path, for messages and extended attributes.
	abs string
	// parent is the open directory that holds the entry (unix.AT_FDCWD
	// for the source itself) and name its name there: every object is
	// opened relative to its parent, never by path.
	parent int
	name   string
	st     unix.Stat_t
	// linkTo is the first path of a hardlinked file seen earlier.
	linkTo string
}

// mode is the entry's type and permission bits as the walk saw them.
func (e *entry) mode() fs.FileMode { return fileMode(e.st.Mode) }

type inodeKey struct{ dev, ino uint64 }

// walker visits a tree depth-first, each directory's entries sorted
// bytewise by name, so the same tree always gives the same order. Memory
// grows with the depth and directory sizes, not with the tree. It holds
// each directory open while it visits what the directory holds, and
// looks at each entry relative to it, so a directory swapped for a
// symlink mid-walk is never followed.
type walker struct {
	links map[inodeKey]string
	// exclude holds the directories never read, skipName tells the names
	// of others, and skipped hears of each one left out.
	exclude  map[inodeKey]bool
	skipName func(name string) bool
	skipped  func(rel string)
	// grafts maps a directory's path to the one read in its place.
	grafts map[string]string
	warn   func(path string, err error)
	visit  func(*entry) error
}

// excluded returns the device and inode of each directory that exists.
func excluded(dirs []string) map[inodeKey]bool {
	m := map[inodeKey]bool{}
	for _, d := range dirs {
		var st unix.Stat_t
		if unix.Stat(d, &st) == nil {
			m[inodeKey{uint64(st.Dev), uint64(st.Ino)}] = true
		}
	}
	return m
}

func (w *walker) walk(root string) error {
	e := &entry{rel: ".", abs: root, parent: unix.AT_FDCWD, name: root}
	if err := unix.Lstat(root, &e.st); err != nil {
		return fmt.Errorf("failed to read source: %w", &fs.PathError{Op: "lstat", Path: root, Err: err})
	}
	if !e.mode().IsDir() {
		return fmt.Errorf("source %s is not a directory", root)
	}
	dir, err := openEntry(e, unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("failed to read source: %w", err)
	}
	defer dir.Close()
	if err := w.visit(e); err != nil {
		return err
	}
	return w.children(dir, e)
}

// children visits what the open directory dir (the entry d) holds.
func (w *walker) children(dir *os.File, d *entry) error {
	names, err := dir.Readdirnames(-1)
	if err != nil {
		w.warn(d.rel, err)
		return nil
	}
	slices.Sort(names) // bytewise
	dirfd := int(dir.Fd())
	for _, name := range names {
		e := &entry{rel: name, abs: filepath.Join(d.abs, name), parent: dirfd, name: name}
		if d.rel != "." {
			e.rel = d.rel + "/" + name
		}
		if err := unix.Fstatat(dirfd, name, &e.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			w.warn(e.rel, &fs.PathError{Op: "lstat", Path: e.abs, Err: err})
			continue
		}
		if err := w.visitEntry(e); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) visitEntry(e *entry) error {
	mode := e.mode()
	switch {
	case mode.Type() == fs.ModeSocket:
		w.warn(e.rel, fmt.Errorf("skipped a socket"))
		return nil
	case mode.IsDir():
		if w.exclude[inodeKey{uint64(e.st.Dev), uint64(e.st.Ino)}] || w.skipName != nil && w.skipName(e.name) {
			w.skipped(e.rel)
			return nil
		}
		if graft, ok := w.grafts[e.rel]; ok {
			return w.graft(e, graft)
		}
		dir, err := openEntry(e, unix.O_DIRECTORY)
		if err != nil {
			w.warn(e.rel, err)
			return nil
		}
		defer dir.Close()
		if err := w.visit(e); err != nil {
			return err
		}
		return w.children(dir, e)
	}
	if e.st.Nlink > 1 {
		k := inodeKey{uint64(e.st.Dev), uint64(e.st.Ino)}
		if first, ok := w.links[k]; ok {
			e.linkTo = first
		} else {
			w.links[k] = e.rel
		}
	}
	return w.visit(e)
}

// graft visits the directory at path in place of the source's directory
// e, under e's path: its metadata and contents. An empty path stores e as
// an empty directory.
func (w *walker) graft(e *entry, path string) error {
	if path == "" {
		return w.visit(e)
	}
	g := &entry{rel: e.rel, abs: path, parent: unix.AT_FDCWD, name: path}
	if err := unix.Lstat(path, &g.st); err != nil {
		return fmt.Errorf("failed to read %s in place of %s: %w", path, e.rel, &fs.PathError{Op: "lstat", Path: path, Err: err})
	}
	dir, err := openEntry(g, unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("failed to read %s in place of %s: %w", path, e.rel, err)
	}
	defer dir.Close()
	if err := w.visit(g); err != nil {
		return err
	}
	return w.children(dir, g)
}

// fileMode converts the st_mode of stat(2) to an fs.FileMode, as os.Lstat
// does.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// xattrs returns a path's extended attributes as PAX records, or nil.
// Filesystems without xattr support yield none.
func xattrs(path string) (map[string]string, error) {
	size, err := unix.Llistxattr(path, nil)
	if err != nil || size == 0 {
		if err == unix.ENOTSUP || err == unix.ENODATA {
			return nil, nil
		}
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(path, buf)
	if err != nil {
		return nil, err
	}
	recs := map[string]string{}
	for _, name := range splitNul(buf[:size]) {
		vsize, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, fmt.Errorf("failed to read xattr %s: %w", name, err)
		}
		val := make([]byte, vsize)
		vsize, err = unix.Lgetxattr(path, name, val)
		if err != nil {
			return nil, fmt.Errorf("failed to read xattr %s: %w", name, err)
		}
		recs[xattrPrefix+name] = string(val[:vsize])
	}
	return recs, nil
}

// xattrPrefix starts the PAX record of an extended attribute.
const xattrPrefix = "SCHILY.xattr."

func splitNul(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	return out
}
