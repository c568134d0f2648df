package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// Dir is a Store over a local directory: each object a file, written to
// a temporary file and renamed into place, durably.
type Dir struct {
	root string
}

var _ Store = (*Dir)(nil)

// NewDir returns the store of the objects in root.
func NewDir(root string) *Dir { return &Dir{root: root} }

// path is the file of an object; it refuses names that leave root.
func (d *Dir) path(name string) (string, error) {
	if !fs.ValidPath(name) || name == "." {
		return "", fmt.Errorf("invalid object name %q", name)
	}
	return filepath.Join(d.root, filepath.FromSlash(name)), nil
}

// List returns every object's size, by name.
func (d *Dir) List(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == d.root && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !e.Type().IsRegular() || strings.Contains(e.Name(), fsync.TempMarker) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = fi.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list %s: %w", d.root, err)
	}
	return out, nil
}

// Stat returns an object's size.
func (d *Dir) Stat(_ context.Context, name string) (int64, error) {
	p, err := d.path(name)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// ReadRange reads length bytes of an object from off.
func (d *Dir) ReadRange(_ context.Context, name string, off, length int64) ([]byte, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, off); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("failed to read %s at %d+%d: %w", p, off, length, err)
	}
	return buf, nil
}

// Put stores an object, atomically and durably.
func (d *Dir) Put(ctx context.Context, name string, src io.ReaderAt, size int64, sent func(int64)) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	return fsync.WriteAtomic(p, 0o600, func(w io.Writer) error {
		n, err := io.Copy(w, io.NewSectionReader(src, 0, size))
		if err == nil && n != size {
			err = fmt.Errorf("%s: source gave %d of %d bytes: %w", name, n, size, io.ErrUnexpectedEOF)
		}
		if err == nil && sent != nil {
			sent(n)
		}
		if err == nil {
			err = ctx.Err()
		}
		return err
	})
}

// Remove deletes an object; a missing one is not an error.
func (d *Dir) Remove(_ context.Context, name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
