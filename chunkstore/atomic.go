package chunkstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// tempMarker is part of every temporary file's name. A crash can leave such
// files behind; they are never part of the repository and are swept by the
// next writer ([Store.Lock] with exclusive access).
const tempMarker = fsync.TempMarker

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

// CreateTemp creates a scratch file for a writer in the device's local/
// directory, named from pattern as a temporary file: the caller removes it
// when done, and after a crash the next writer sweeps it.
func (s *Store) CreateTemp(pattern string) (*os.File, error) {
	if s.ReadOnly() {
		return nil, ErrReadOnly
	}
	return os.CreateTemp(s.Path(LocalDir), pattern+tempMarker+"*")
}
