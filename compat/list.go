package compat

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/manifest"
)

// Archive is the classic archive of one snapshot as found in a directory,
// with every companion file.
type Archive struct {
	// Name is the snapshot's name, <kind>-<stamp>.
	Name string
	// Time is the stamp's time (UTC).
	Time time.Time
	// Files are the paths of all the archive's files (the archive,
	// encrypted or not, whole or in parts, and its sidecars) in the order
	// to remove them: sidecars first, so that an interrupted removal never
	// leaves a sidecar without the file it describes.
	Files []string
}

// companion matches what may follow "<kind>-<stamp>" in the name of an
// archive's file.
var companion = regexp.MustCompile(`^` + regexp.QuoteMeta(Ext) + `(` + regexp.QuoteMeta(AgeExt) + `)?(` +
	regexp.QuoteMeta(SidecarExt) + `|` + regexp.QuoteMeta(partInfix) + `[0-9]{3})?$`)

// List returns the archives of kind in dir (typically ${BACKUP_DIR}/<kind>),
// oldest first: for each stamp, every file named
// <kind>-<stamp>.tar.zst[.age][.sha256|.part-NNN]. Removing an Archive's
// Files removes the archive with all its sidecars and parts. Other files
// are ignored, among them the temporary files of unfinished writes (see
// [RemoveStale]). A missing dir holds no archives.
func List(dir, kind string) ([]Archive, error) {
	if err := manifest.CheckKind(kind); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to list archives in %s: %w", dir, err)
	}
	var files []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return Group(files, kind), nil
}

// Group gathers the files of kind's archives among files (paths, or
// names of objects in a bucket, with "/" separators), as [List] does for
// a directory's files, oldest first. Other files are left out.
func Group(files []string, kind string) []Archive {
	byName := map[string]*Archive{}
	for _, f := range files {
		name, ok := archiveOf(filepath.Base(f), kind)
		if !ok {
			continue
		}
		a := byName[name]
		if a == nil {
			_, t, _ := manifest.ParseName(name)
			a = &Archive{Name: name, Time: t}
			byName[name] = a
		}
		a.Files = append(a.Files, f)
	}
	out := make([]Archive, 0, len(byName))
	for _, a := range byName {
		slices.SortFunc(a.Files, func(x, y string) int {
			return cmp.Or(-cmp.Compare(isSidecar(x), isSidecar(y)), strings.Compare(x, y))
		})
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Archive) int { return a.Time.Compare(b.Time) })
	return out
}

func isSidecar(name string) int {
	if strings.HasSuffix(name, SidecarExt) {
		return 1
	}
	return 0
}

// archiveOf returns the snapshot name of an archive file of kind.
func archiveOf(file, kind string) (string, bool) {
	stampLen := len(manifest.StampLayout)
	rest, ok := strings.CutPrefix(file, kind+"-")
	if !ok || len(rest) < stampLen || !companion.MatchString(rest[stampLen:]) {
		return "", false
	}
	name := file[:len(kind)+1+stampLen]
	if _, _, err := manifest.ParseName(name); err != nil {
		return "", false
	}
	return name, true
}
