package pipeline

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// entry is one filesystem object found by the walk.
type entry struct {
	// rel is the slash-separated path relative to the source; "." for the
	// source itself.
	rel  string
	abs  string
	info fs.FileInfo
	st   *syscall.Stat_t
	// linkTo is the first path of a hardlinked file seen earlier.
	linkTo string
}

type inodeKey struct{ dev, ino uint64 }

// walker visits a tree depth-first, each directory's entries sorted
// bytewise by name, so the same tree always gives the same order. Memory
// grows with the depth and directory sizes, not with the tree.
type walker struct {
	links map[inodeKey]string
	warn  func(path string, err error)
	visit func(*entry) error
}

func (w *walker) walk(root string) error {
	info, err := os.Lstat(root)
	if err != nil {
		return fmt.Errorf("failed to read source: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("source %s is not a directory", root)
	}
	return w.visitPath(root, ".", info)
}

func (w *walker) visitPath(abs, rel string, info fs.FileInfo) error {
	e := &entry{rel: rel, abs: abs, info: info, st: info.Sys().(*syscall.Stat_t)}
	if info.Mode().Type() == fs.ModeSocket {
		w.warn(rel, fmt.Errorf("skipped a socket"))
		return nil
	}
	if !info.IsDir() && e.st.Nlink > 1 {
		k := inodeKey{uint64(e.st.Dev), e.st.Ino}
		if first, ok := w.links[k]; ok {
			e.linkTo = first
		} else {
			w.links[k] = rel
		}
	}
	if err := w.visit(e); err != nil {
		return err
	}
	if !info.IsDir() {
		return nil
	}
	names, err := readDirNames(abs)
	if err != nil {
		w.warn(rel, err)
		return nil
	}
	for _, name := range names {
		childAbs := filepath.Join(abs, name)
		childRel := name
		if rel != "." {
			childRel = rel + "/" + name
		}
		ci, err := os.Lstat(childAbs)
		if err != nil {
			w.warn(childRel, err)
			continue
		}
		if err := w.visitPath(childAbs, childRel, ci); err != nil {
			return err
		}
	}
	return nil
}

// readDirNames returns the names in a directory, sorted bytewise.
func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir) // sorted by name, bytewise
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, err
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
