package chunkstore

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Size adds up the sizes of the files of the repository in dir, but for
// its device state (local/) and unfinished writes: what a copy of the
// repository takes. Files deleted while it counts (by a running
// retention) are skipped. It fails with an error wrapping [ErrNotExist]
// when dir holds no repository.
func Size(dir string) (int64, error) {
	if _, err := os.Stat(filepath.Join(dir, configFile)); os.IsNotExist(err) {
		return 0, fmt.Errorf("%w in %s", ErrNotExist, dir)
	}
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			if os.IsNotExist(err) {
				return nil // deleted by a running retention
			}
			return err
		case d.IsDir() && p == filepath.Join(dir, LocalDir):
			return filepath.SkipDir
		case d.IsDir() || IsTemp(d.Name()):
			return nil
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("failed to measure the repository %s: %w", dir, err)
	}
	return n, nil
}
