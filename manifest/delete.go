package manifest

import (
	"fmt"
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

// Referenced returns the set of blobs that the snapshots reference: what
// garbage collection must keep.
func Referenced(list []*Manifest) map[chunkstore.ID]struct{} {
	n := 0
	for _, m := range list {
		n = max(n, len(m.Blobs))
	}
	set := make(map[chunkstore.ID]struct{}, n)
	for _, m := range list {
		for _, id := range m.Blobs {
			set[id] = struct{}{}
		}
	}
	return set
}
