package export

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
)

// ArchivePath is where the classic archive of snapshot goes: out (a file,
// or a directory to put it in: an existing one, or one ending in a
// slash), by default compat.Path(backupDir, …), which must not be the
// repository s.
func ArchivePath(s *chunkstore.Store, out, backupDir, snapshot string, encrypted bool) (string, error) {
	if out == "" {
		p, err := compat.Path(backupDir, snapshot, encrypted)
		if err != nil {
			return "", err
		}
		return p, compat.OutsideRepo(filepath.Dir(p), s.Dir())
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() || strings.HasSuffix(out, "/") {
		return filepath.Join(out, compat.FileName(snapshot, encrypted)), nil
	}
	return out, nil
}
