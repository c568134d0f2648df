package compat

import (
	"fmt"
	"path/filepath"

	"github.com/pocketsnap/pocketsnap/manifest"
)

// File name extensions of classic archives and their companions.
const (
	// Ext ends the name of an archive: a zstd-compressed tar stream.
	Ext = ".tar.zst"
	// AgeExt is appended to Ext when the archive is age-encrypted.
	AgeExt = ".age"
	// SidecarExt is appended to an archive's name to name its sidecar.
	SidecarExt = ".sha256"
	// partInfix is appended to an archive's name, with three digits, to
	// name its parts.
	partInfix = ".part-"
)

// DefaultPartSize is the largest file a [Writer] creates unless told
// otherwise: 64 MiB below the 5 GiB limit of a single S3 PUT.
const DefaultPartSize int64 = 5<<30 - 64<<20

// maxParts bounds the parts of an archive, so that their three-digit
// numbers sort in order and `cat NAME.part-*` reassembles it.
const maxParts = 1000

// FileName returns the file name of a snapshot's archive:
// "<snapshot>.tar.zst", or "<snapshot>.tar.zst.age" when encrypted.
func FileName(snapshot string, encrypted bool) string {
	if encrypted {
		return snapshot + Ext + AgeExt
	}
	return snapshot + Ext
}

// Dir returns the directory of the archives of kind: backupDir/<kind>.
func Dir(backupDir, kind string) string { return filepath.Join(backupDir, kind) }

// Path returns where a snapshot's archive goes by default:
// Dir(backupDir, kind)/FileName(snapshot, encrypted).
func Path(backupDir, snapshot string, encrypted bool) (string, error) {
	kind, _, err := manifest.ParseName(snapshot)
	if err != nil {
		return "", err
	}
	return filepath.Join(Dir(backupDir, kind), FileName(snapshot, encrypted)), nil
}

// OutsideRepo fails if dir, the default directory of a kind's archives,
// is the repository repoDir itself (a kind named like the repository's
// directory).
func OutsideRepo(dir, repoDir string) error {
	a, aerr := filepath.Abs(dir)
	r, rerr := filepath.Abs(repoDir)
	if aerr == nil && rerr == nil && a == r {
		return fmt.Errorf("classic archives would go into the repository %s: use another kind name, or set BACKUP_REPO elsewhere", repoDir)
	}
	return nil
}

// SidecarPath returns the path of an archive's sidecar.
func SidecarPath(archive string) string { return archive + SidecarExt }

// PartPath returns the path of part i (from 0) of an archive.
func PartPath(archive string, i int) string { return fmt.Sprintf("%s%s%03d", archive, partInfix, i) }
