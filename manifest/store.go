package manifest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// Dir is the repository directory that holds manifests.
const Dir = "snapshots"

// Save encodes m and stores it as snapshots/<name>. This is the step that
// makes a snapshot visible, so callers do it last, after every pack the
// snapshot references is durable. In a repository of format version 2 it
// writes a version 2 manifest, storing its base set object first when it
// starts a new one (see [chooseBase]).
func Save(s *chunkstore.Store, m *Manifest) error {
	keys, err := s.Keys()
	if err != nil {
		return err
	}
	name := path.Join(Dir, m.Name)
	if _, err := os.Lstat(s.Path(name)); err == nil {
		return fmt.Errorf("snapshot %s already exists", m.Name)
	}
	if s.Config().Version >= 2 {
		if err := chooseBase(s, keys, m); err != nil {
			return fmt.Errorf("failed to write manifest %s: %w", m.Name, err)
		}
	}
	err = s.WriteFileFrom(name, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := Write(bw, m, keys, s.Codec()); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("failed to write manifest %s: %w", m.Name, err)
	}
	return nil
}

// Load reads and authenticates the manifest of the named snapshot.
func Load(s *chunkstore.Store, name string) (*Manifest, error) {
	if _, _, err := ParseName(name); err != nil {
		return nil, err
	}
	keys, err := s.Keys()
	if err != nil {
		return nil, err
	}
	f, err := s.FS().Open(path.Join(Dir, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("snapshot %s not found", name)
		}
		return nil, fmt.Errorf("failed to read manifest %s: %w", name, err)
	}
	m, err := DecodeFrom(f, keys)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", name, err)
	}
	if m.Name != name {
		return nil, fmt.Errorf("manifest %s: %w: it names itself %s", name, ErrInvalid, m.Name)
	}
	if err := readSet(s, m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", name, err)
	}
	return m, nil
}

// Names returns the names of all stored snapshots, oldest first. It fails
// on a file in the snapshots directory that is not named as a snapshot.
func Names(s *chunkstore.Store) ([]string, error) {
	names, bad, err := scan(s)
	if err == nil && len(bad) > 0 {
		err = bad[0]
	}
	return names, err
}

// scan returns the names of all stored snapshots, oldest first, and the
// files in the snapshots directory that are not named as one.
func scan(s *chunkstore.Store) ([]string, []*DamagedError, error) {
	ents, err := fs.ReadDir(s.FS(), Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("failed to list snapshots: %w", err)
	}
	var names []string
	var bad []*DamagedError
	for _, e := range ents {
		if chunkstore.IsTemp(e.Name()) {
			continue
		}
		if _, _, err := ParseName(e.Name()); err != nil {
			bad = append(bad, &DamagedError{Name: e.Name(), Err: fmt.Errorf("unexpected file %s in %s: %w", e.Name(), Dir, err)})
			continue
		}
		names = append(names, e.Name())
	}
	slices.SortFunc(names, byTime)
	return names, bad, nil
}

func byTime(a, b string) int {
	_, ta, _ := ParseName(a)
	_, tb, _ := ParseName(b)
	if c := ta.Compare(tb); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// List loads every manifest, oldest first. It fails on the first manifest
// that does not authenticate, naming it.
func List(s *chunkstore.Store) ([]*Manifest, error) {
	names, err := Names(s)
	if err != nil {
		return nil, err
	}
	out := make([]*Manifest, 0, len(names))
	for _, n := range names {
		m, err := Load(s, n)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// DamagedError is a file in the snapshots directory that is not a usable
// manifest: unreadable, truncated, altered, forged, or not named as a
// snapshot.
type DamagedError struct {
	// Name is the file's name in the snapshots directory.
	Name string
	// Err says what is wrong with it.
	Err error
}

func (e *DamagedError) Error() string { return e.Err.Error() }

// Unwrap returns what is wrong with the manifest, and [ErrInvalid].
func (e *DamagedError) Unwrap() []error { return []error{e.Err, ErrInvalid} }

// Kind returns the kind and time the damaged manifest's name gives, or
// ok false when it is not named as a snapshot.
func (e *DamagedError) Kind() (kind string, t time.Time, ok bool) {
	kind, t, err := ParseName(e.Name)
	return kind, t, err == nil
}

// ListValid loads every manifest, oldest first, and returns those that do
// not load (see [DamagedError]) apart, so that one damaged manifest does
// not hide the others. It fails only when the directory cannot be listed.
func ListValid(s *chunkstore.Store) ([]*Manifest, []*DamagedError, error) {
	names, damaged, err := scan(s)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*Manifest, 0, len(names))
	for _, n := range names {
		m, err := Load(s, n)
		if err != nil {
			damaged = append(damaged, &DamagedError{Name: n, Err: err})
			continue
		}
		out = append(out, m)
	}
	return out, damaged, nil
}

// Resolve finds a snapshot by exact name or unique prefix. Files in the
// snapshots directory that are not named as snapshots are passed over.
func Resolve(s *chunkstore.Store, ref string) (string, error) {
	names, _, err := scan(s)
	if err != nil {
		return "", err
	}
	var hits []string
	for _, n := range names {
		if n == ref {
			return n, nil
		}
		if strings.HasPrefix(n, ref) {
			hits = append(hits, n)
		}
	}
	switch len(hits) {
	case 0:
		return "", fmt.Errorf("no snapshot matches %q", ref)
	case 1:
		return hits[0], nil
	}
	return "", fmt.Errorf("%q matches %d snapshots (%s … %s): give more of the name", ref, len(hits), hits[0], hits[len(hits)-1])
}
