package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// Delete removes the manifest of the named snapshot, durably (its
// directory is synced). Retention deletes manifests before the packs they
// referenced, so a crash never leaves a snapshot whose blobs are gone. A
// snapshot that does not exist is not an error: a rotation killed after
// deleting it runs again.
func Delete(s *chunkstore.Store, name string) error {
	if _, _, err := ParseName(name); err != nil {
		return err
	}
	if err := s.RemoveFile(path.Join(Dir, name)); err != nil {
		return fmt.Errorf("failed to delete manifest %s: %w", name, err)
	}
	return nil
}

// SetFile is a stored set object.
type SetFile struct {
	// Name is its repository-relative name, sets/<ID>.
	Name string
	Size int64
}

// UnusedSets returns the stored set objects that no manifest of list
// names as its base: what garbage collection deletes, once list holds
// every snapshot kept. Temporary files are left to the store's cleanup;
// a file in sets/ not named as a set object is never returned.
func UnusedSets(s *chunkstore.Store, list []*Manifest) ([]SetFile, error) {
	used := map[chunkstore.ID]bool{}
	for _, m := range list {
		if m.Version == Version2 {
			used[m.Base] = true
		}
	}
	ents, err := fs.ReadDir(s.FS(), SetsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("failed to list set objects: %w", err)
	}
	var out []SetFile
	for _, e := range ents {
		id, err := chunkstore.ParseID(e.Name())
		if err != nil || used[id] || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("failed to read set object %s: %w", SetName(id), err)
		}
		out = append(out, SetFile{Name: SetName(id), Size: fi.Size()})
	}
	return out, nil
}

// DeleteSet removes a set object, durably. Retention deletes it after
// every manifest that named it.
func DeleteSet(s *chunkstore.Store, name string) error {
	if err := s.RemoveFile(name); err != nil {
		return fmt.Errorf("failed to delete set object %s: %w", name, err)
	}
	return nil
}
