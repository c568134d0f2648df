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
// a *NoEntryError. It holds what it returns: a caller that wants the
// entries one at a time walks [Manifest.EachEntry].
func (m *Manifest) Entries(paths ...string) ([]File, error) {
	out := []File{}
	err := m.EachEntry(paths, func(f *File) error {
		out = append(out, *f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachEntry calls fn with each entry that [Manifest.Entries] would
// return, in order, one at a time. A path that names no entry fails
// with a *NoEntryError, after fn has seen the entries of the others.
func (m *Manifest) EachEntry(paths []string, fn func(f *File) error) error {
	clean := make([]string, len(paths))
	for i, p := range paths {
		clean[i] = path.Clean(strings.TrimLeft(p, "/"))
	}
	matched := make([]bool, len(paths))
	err := m.EachFile(func(_ int, f *File) error {
		in := len(paths) == 0
		for i, q := range clean {
			if q == "." || f.Path == q || strings.HasPrefix(f.Path, q+"/") {
				matched[i], in = true, true
			}
		}
		if in {
			return fn(f)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, ok := range matched {
		if !ok {
			return &NoEntryError{Path: paths[i], Snapshot: m.Name}
		}
	}
	return nil
}
