package manifest

import (
	"fmt"
	"path"
	"strings"
)

// NoEntryError reports a path that names no entry of a snapshot.
type NoEntryError struct {
	Path, Snapshot string
}

func (e *NoEntryError) Error() string {
	return fmt.Sprintf("no entry %s in snapshot %s", e.Path, e.Snapshot)
}

// Entries returns the entries of m's file index (its details must be
// open) that are at or below one of paths, in index order, each once:
// all of them with no paths. A path may be written as people write it (/etc/ssh/,
// ./etc; "/" or "." is the root). A path that names no entry fails with
// a *NoEntryError.
func (m *Manifest) Entries(paths ...string) ([]File, error) {
	clean := make([]string, len(paths))
	for i, p := range paths {
		clean[i] = path.Clean(strings.TrimLeft(p, "/"))
	}
	matched := make([]bool, len(paths))
	out := []File{}
	for _, f := range m.Details().Files {
		in := len(paths) == 0
		for i, q := range clean {
			if q == "." || f.Path == q || strings.HasPrefix(f.Path, q+"/") {
				matched[i], in = true, true
			}
		}
		if in {
			out = append(out, f)
		}
	}
	for i, ok := range matched {
		if !ok {
			return nil, &NoEntryError{Path: paths[i], Snapshot: m.Name}
		}
	}
	return out, nil
}
