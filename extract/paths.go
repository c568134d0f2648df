//go:build linux

package extract

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// cleanName checks an entry name or hardlink target from the archive and
// returns it cleaned, relative to the root. A name without "..", not
// absolute and without NUL cannot escape once cleaned.
func cleanName(name string) (string, error) {
	switch {
	case name == "":
		return "", fmt.Errorf("empty name: %w", ErrUnsafePath)
	case strings.IndexByte(name, 0) >= 0:
		return "", fmt.Errorf("name contains NUL: %w", ErrUnsafePath)
	case path.IsAbs(name):
		return "", fmt.Errorf("absolute name: %w", ErrUnsafePath)
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == ".." {
			return "", fmt.Errorf(`name has a ".." component: %w`, ErrUnsafePath)
		}
	}
	return path.Clean(name), nil
}

// entryName is cleanName relative to Options.Root.
func (x *extractor) entryName(name string) (string, error) {
	name, err := cleanName(name)
	if err != nil || x.opt.Root == "" {
		return name, err
	}
	if name == x.opt.Root {
		return ".", nil
	}
	if rest, ok := strings.CutPrefix(name, x.opt.Root+"/"); ok {
		return rest, nil
	}
	return "", fmt.Errorf("outside the archive's root %s/: %w", x.opt.Root, ErrUnsafePath)
}

// split returns the parent directory and the base name of a cleaned name.
func split(name string) (dir, base string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return ".", name
	}
	return name[:i], name[i+1:]
}

// parents makes sure every directory above the cleaned name is a real
// directory and not a symlink, creating missing ones when create is set.
// Each prefix is checked before the next is used, so no check or mkdir
// ever goes through a symlink.
func (x *extractor) parents(name string, create bool) error {
	dir, _ := split(name)
	if dir == "." || x.realDirs[dir] {
		return nil
	}
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		if x.realDirs[dir[:i]] {
			continue
		}
		if err := x.realDir(dir[:i], create); err != nil {
			return err
		}
		x.realDirs[dir[:i]] = true
	}
	return nil
}

// realDir checks that p is a directory, not a symlink, or creates it when
// it is missing and create is set. Implicit parents get mode 0755 (less the
// umask) and keep it, as in tar.
func (x *extractor) realDir(p string, create bool) error {
	fi, err := x.root.Lstat(p)
	if create && errors.Is(err, fs.ErrNotExist) {
		if err := x.root.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("create parent: %w", err)
		}
		return nil
	}
	switch {
	case err != nil:
		return fmt.Errorf("check parent: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("parent %q is a symlink: %w", p, ErrUnsafePath)
	case !fi.IsDir():
		return fmt.Errorf("parent %q is not a directory", p)
	}
	return nil
}
