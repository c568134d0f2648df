// Package tree removes directory trees that a restore or a staging left
// behind, including those holding directories without write permission
// (extracted or copied with their original modes), which os.RemoveAll
// alone cannot empty when not running as root.
package tree

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Remove deletes dir and everything below it, first making every
// directory in it writable. A missing dir is not an error.
func Remove(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
