package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/retention"
)

// archives deletes the classic archives beyond the policies in every
// ${BACKUP_DIR}/<kind>/, each with all its companions.
func (r *rotation) archives(rep *rotateReport) error {
	base := r.e.cfg.Value("BACKUP_DIR")
	ents, err := os.ReadDir(base)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to list %s: %w", base, err)
	}
	for _, ent := range ents {
		kind := ent.Name()
		p := r.pol.of(kind)
		if !ent.IsDir() || manifest.CheckKind(kind) != nil || p.KeepsAll() {
			continue
		}
		if err := r.archivesOf(compat.Dir(base, kind), kind, p, rep); err != nil {
			return err
		}
	}
	return nil
}

func (r *rotation) archivesOf(dir, kind string, p retention.Policy, rep *rotateReport) error {
	archives, err := compat.List(dir, kind)
	if err != nil {
		return err
	}
	byName := map[string]compat.Archive{}
	items := make([]retention.Item, 0, len(archives))
	for _, a := range archives {
		byName[a.Name] = a
		items = append(items, retention.Item{Name: a.Name, Time: a.Time, Incomplete: !verifiable(a)})
	}
	for _, d := range retention.Apply(p, items) {
		if d.Keep {
			continue
		}
		a := byName[d.Name]
		ra := rotatedArchive{Name: a.Name, Dir: dir, Policy: p.String()}
		for _, f := range a.Files {
			ra.Files = append(ra.Files, filepath.Base(f))
			if fi, err := os.Lstat(f); err == nil {
				ra.Bytes += fi.Size()
			}
			if r.dryRun {
				continue
			}
			if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("failed to delete archive %s: %w", a.Name, err)
			}
		}
		rep.Archives = append(rep.Archives, ra)
		rep.Freed += ra.Bytes
	}
	return nil
}

// verifiable reports whether an archive has both data and a sidecar. One
// that lacks either (a sidecar left alone, an archive being renamed into
// place) does not count towards the kind's count, as an incomplete
// snapshot does not: it goes once enough complete archives are newer.
func verifiable(a compat.Archive) bool {
	sidecars := 0
	for _, f := range a.Files {
		if strings.HasSuffix(f, compat.SidecarExt) {
			sidecars++
		}
	}
	return sidecars > 0 && sidecars < len(a.Files)
}
