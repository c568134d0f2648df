package prune

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// Archives deletes the classic archives beyond the policies in every
// <BackupDir>/<kind>/, each with all its companions, sidecars first, and
// adds them to rep. It needs no repository.
func Archives(opt Options, rep *Report) error {
	if opt.BackupDir == "" {
		return nil
	}
	ents, err := os.ReadDir(opt.BackupDir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to list %s: %w", opt.BackupDir, err)
	}
	for _, ent := range ents {
		kind := ent.Name()
		if !ent.IsDir() || manifest.CheckKind(kind) != nil {
			continue
		}
		p := opt.Policy(kind)
		if p.KeepsAll() {
			continue
		}
		dir := compat.Dir(opt.BackupDir, kind)
		archives, err := compat.List(dir, kind)
		if err != nil {
			return err
		}
		for _, a := range dropArchives(p, archives) {
			ra := Archive{Name: a.Name, Dir: dir, Policy: p.String()}
			for _, f := range a.Files {
				ra.Files = append(ra.Files, filepath.Base(f))
				if fi, err := os.Lstat(f); err == nil {
					ra.Bytes += fi.Size()
				}
				if opt.DryRun {
					continue
				}
				if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("failed to delete archive %s: %w", a.Name, err)
				}
			}
			rep.Archives = append(rep.Archives, ra)
			rep.Freed += ra.Bytes
		}
	}
	return nil
}
