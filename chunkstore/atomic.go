package chunkstore

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// tempMarker is part of every temporary file's name. A crash can leave such
// files behind; they are never part of the repository and are swept by the
// next writer ([Store.Lock] with exclusive access).
const tempMarker = ".tmp-"

// writeAtomic writes a file at path through a temporary file in the same
// directory, fsyncs it, renames it into place and fsyncs the directory, so
// that path either does not exist or holds the complete content.
func writeAtomic(path string, perm os.FileMode, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("failed to create directory: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+tempMarker+"*")
	if err != nil {
		return fmt.Errorf("failed to create temporary file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("failed to set mode of %s: %w", tmp, err)
	}
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("failed to sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("failed to close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("failed to rename into place: %w", err)
	}
	ok = true
	return fsync.Dir(dir)
}

// writeFileAtomic is writeAtomic for a byte slice.
func writeFileAtomic(path string, perm os.FileMode, data []byte) error {
	return writeAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// IsTemp reports whether a file name is that of an unfinished write, which
// is not part of the repository.
func IsTemp(name string) bool { return strings.Contains(name, tempMarker) }

// sweepTemps removes temporary files left below dir by crashed writers.
func sweepTemps(dir string) error {
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.IsDir() && IsTemp(d.Name()) {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("failed to remove stale temporary file %s: %w", path, err)
			}
		}
		return nil
	})
}
