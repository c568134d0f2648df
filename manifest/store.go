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

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// Dir is the repository directory that holds manifests.
const Dir = "snapshots"

// Save encodes m and stores it as snapshots/<name>. This is the step that
// makes a snapshot visible, so callers do it last, after every pack the
// snapshot references is durable.
func Save(s *chunkstore.Store, m *Manifest) error {
	keys, err := s.Keys()
	if err != nil {
		return err
	}
	name := path.Join(Dir, m.Name)
	if _, err := os.Lstat(s.Path(name)); err == nil {
		return fmt.Errorf("snapshot %s already exists", m.Name)
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
	b, err := fs.ReadFile(s.FS(), path.Join(Dir, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("snapshot %s not found", name)
		}
		return nil, fmt.Errorf("failed to read manifest %s: %w", name, err)
	}
	m, err := Decode(b, keys)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", name, err)
	}
	if m.Name != name {
		return nil, fmt.Errorf("manifest %s: %w: it names itself %s", name, ErrInvalid, m.Name)
	}
	return m, nil
}

// Names returns the names of all stored snapshots, oldest first.
func Names(s *chunkstore.Store) ([]string, error) {
	ents, err := fs.ReadDir(s.FS(), Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("failed to list snapshots: %w", err)
	}
	var names []string
	for _, e := range ents {
		if chunkstore.IsTemp(e.Name()) {
			continue
		}
		if _, _, err := ParseName(e.Name()); err != nil {
			return nil, fmt.Errorf("unexpected file %s in %s: %w", e.Name(), Dir, err)
		}
		names = append(names, e.Name())
	}
	slices.SortFunc(names, byTime)
	return names, nil
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

// Resolve finds a snapshot by exact name or unique prefix.
func Resolve(s *chunkstore.Store, ref string) (string, error) {
	names, err := Names(s)
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
