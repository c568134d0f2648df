package offsite

import (
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/remote"
)

// ClassicArchives lists the encrypted classic archives under backupDir
// (${BACKUP_DIR}, each kind's in <kind>/) as files to push as they are,
// named in the bucket under [remote.ArchivesDir]/<kind>/: each archive (or
// its parts) before its sidecars. Plaintext archives are left out:
// plaintext never leaves the device.
func ClassicArchives(backupDir string) ([]LocalFile, error) {
	ents, err := os.ReadDir(backupDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []LocalFile
	for _, ent := range ents {
		kind := ent.Name()
		if !ent.IsDir() || manifest.CheckKind(kind) != nil {
			continue
		}
		archives, err := compat.List(compat.Dir(backupDir, kind), kind)
		if err != nil {
			return nil, err
		}
		for _, a := range archives {
			files := slices.Clone(a.Files)
			isSidecar := func(f string) int {
				if strings.HasSuffix(f, compat.SidecarExt) {
					return 1
				}
				return 0
			}
			slices.SortStableFunc(files, func(x, y string) int { return cmp.Compare(isSidecar(x), isSidecar(y)) })
			for _, f := range files {
				if !strings.Contains(filepath.Base(f), compat.Ext+compat.AgeExt) {
					continue
				}
				fi, err := os.Stat(f)
				if err != nil {
					return nil, err
				}
				out = append(out, LocalFile{Name: remote.ArchivesDir + "/" + kind + "/" + filepath.Base(f), Path: f, Size: fi.Size()})
			}
		}
	}
	return out, nil
}
