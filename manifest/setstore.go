package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// readSet completes a version 2 manifest's blob set from its base set
// object in s, resolving prefixes through the device's index and its
// record of the bucket's packs. A missing or damaged set object fails
// closed, naming it.
func readSet(s *chunkstore.Store, m *Manifest) error {
	if m.Version != Version2 {
		return nil
	}
	b, err := fs.ReadFile(s.FS(), SetName(m.Base))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: its set object %s is missing (%w)", ErrInvalid, SetName(m.Base), chunkstore.ErrMissing)
	}
	if err != nil {
		return fmt.Errorf("failed to read set object %s: %w", SetName(m.Base), err)
	}
	resolve, err := resolver(s)
	if err != nil {
		return err
	}
	return m.UseSet(b, resolve)
}

// resolver returns a function that finds the blob of a prefix in s's
// index, or else among the packs s knows to be in its bucket.
func resolver(s *chunkstore.Store) (func(Prefix) (chunkstore.ID, bool), error) {
	ix, err := s.Index()
	if err != nil {
		return nil, err
	}
	rix, err := s.RemoteIndex()
	if err != nil && !errors.Is(err, chunkstore.ErrReadOnly) {
		return nil, err
	}
	return func(p Prefix) (chunkstore.ID, bool) {
		if id, ok := ix.Resolve(p); ok || rix == nil {
			return id, ok
		}
		return rix.Resolve(p)
	}, nil
}

// chooseBase makes m a version 2 manifest: its blob set as a delta
// against the base set of the newest snapshot of its kind, or against a
// new base holding its whole set, which it stores first, when there is
// no such base or [needsNewBase] says so.
func chooseBase(s *chunkstore.Store, keys *chunkstore.Keys, m *Manifest) error {
	set, err := prefixesOf(m.Blobs)
	if err != nil {
		return err
	}
	baseID, base, stored := parentBase(s, keys, m.Kind)
	added, removed := diffSets(base, set)
	if baseID == (chunkstore.ID{}) || needsNewBase(len(base), len(added)+len(removed), stored) {
		b, id := EncodeSet(set)
		if err := storeSet(s, id, b); err != nil {
			return err
		}
		baseID, added, removed = id, nil, nil
	}
	m.Version, m.Base, m.added, m.removed, m.resolved = Version2, baseID, added, removed, true
	return nil
}

// parentBase returns the base set of the newest stored snapshot of kind,
// and the number of prefixes that the deltas of the stored manifests of
// kind against it hold; or the zero ID when there is none, it is of
// version 1, or it or its set does not load: a new base is then started.
func parentBase(s *chunkstore.Store, keys *chunkstore.Keys, kind string) (id chunkstore.ID, base []Prefix, stored int) {
	names, _, err := scan(s)
	if err != nil {
		return id, nil, 0
	}
	for _, name := range slices.Backward(names) {
		if k, _, _ := ParseName(name); k != kind {
			continue
		}
		b, err := fs.ReadFile(s.FS(), Dir+"/"+name)
		if err != nil {
			break
		}
		m, err := Decode(b, keys)
		if err != nil || m.Version != Version2 {
			break
		}
		if base == nil {
			sb, err := fs.ReadFile(s.FS(), SetName(m.Base))
			if err != nil {
				break
			}
			if base, err = DecodeSet(sb, m.Base); err != nil {
				break
			}
			id = m.Base
		}
		if m.Base != id {
			break // the deltas against id begin after this snapshot
		}
		stored += len(m.added) + len(m.removed)
	}
	return id, base, stored
}

// storeSet stores a set object durably, unless it is stored already.
func storeSet(s *chunkstore.Store, id chunkstore.ID, b []byte) error {
	name := SetName(id)
	if old, err := os.ReadFile(s.Path(name)); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if _, err := os.Stat(s.Path(SetsDir)); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(s.Path(SetsDir), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := fsync.Dir(s.Dir()); err != nil {
			return err
		}
	}
	if err := s.WriteFile(name, b); err != nil {
		return fmt.Errorf("failed to write set object %s: %w", name, err)
	}
	return nil
}
