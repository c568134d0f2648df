package offsite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/remote"
	"github.com/pocketsnap/pocketsnap/retention"
)

// ledgerFile is where the device records the bucket's snapshots (device
// state, never uploaded).
var ledgerFile = chunkstore.Local("bucket-snapshots.json")

// Entry is what the device knows of a snapshot it made visible in the
// bucket: the packs it needs there, and whether it is incomplete.
type Entry struct {
	// Packs are the packs' IDs, in hex.
	Packs      []string `json:"packs"`
	Incomplete bool     `json:"incomplete,omitempty"`
	// Set is the name of the set object (sets/<ID>) its version 2
	// manifest needs; empty for version 1.
	Set string `json:"set,omitempty"`
}

// Ledger is the device's record of the snapshots in its bucket, by name:
// written by [Push] as each manifest lands, so that retention in the
// bucket knows which packs are live without reading a manifest there.
type Ledger struct {
	Snapshots map[string]Entry `json:"snapshots"`
}

// LoadLedger reads the device's ledger; a device that never pushed has
// an empty one.
func LoadLedger(s *chunkstore.Store) (*Ledger, error) {
	l := &Ledger{Snapshots: map[string]Entry{}}
	b, err := os.ReadFile(s.Path(ledgerFile))
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path(ledgerFile), err)
	}
	if l.Snapshots == nil {
		l.Snapshots = map[string]Entry{}
	}
	return l, nil
}

// Save stores the ledger, atomically.
func (l *Ledger) Save(s *chunkstore.Store) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return s.WriteFile(ledgerFile, append(b, '\n'))
}

// Clone returns a copy that can be changed without changing l.
func (l *Ledger) Clone() *Ledger { return &Ledger{Snapshots: maps.Clone(l.Snapshots)} }

// Forget drops the snapshots' entries.
func (l *Ledger) Forget(names ...string) {
	for _, n := range names {
		delete(l.Snapshots, n)
	}
}

// Packs resolves a snapshot's blobs to the packs that hold them in the
// bucket, by the device's indexes: inBucket says whether a pack is there
// (or about to be). A blob in no such pack is counted in missing.
func Packs(s *chunkstore.Store, blobs []chunkstore.ID, inBucket func(chunkstore.ID) bool) (packs []chunkstore.ID, missing int, err error) {
	ix, err := s.Index()
	if err != nil {
		return nil, 0, err
	}
	rix, err := s.RemoteIndex()
	if err != nil {
		return nil, 0, err
	}
	seen := map[chunkstore.ID]bool{}
	for _, id := range blobs {
		found := false
		for _, x := range []*chunkstore.Index{ix, rix} {
			if loc, ok := x.Lookup(id); ok && inBucket(loc.Pack) {
				found = true
				if !seen[loc.Pack] {
					seen[loc.Pack] = true
					packs = append(packs, loc.Pack)
				}
			}
		}
		if !found {
			missing++
		}
	}
	slices.SortFunc(packs, func(a, b chunkstore.ID) int { return bytes.Compare(a[:], b[:]) })
	return packs, missing, nil
}

// Liveness is which of the bucket's packs a prune must keep.
type Liveness struct {
	// Packs are the packs some snapshot in the bucket, or some local
	// snapshot on its way there (a push in progress), needs.
	Packs map[chunkstore.ID]bool
	// Sets are the names of the set objects those snapshots need.
	Sets map[string]bool
	// Unknown names the snapshots whose packs the device cannot tell:
	// in the bucket but neither in the ledger nor readable locally, or
	// local and unreadable. While any is unknown, no pack is garbage.
	Unknown []string
}

// Live says which of the bucket's packs are needed, from the device's
// own records only: for each snapshot in the bucket (visible, by name),
// its ledger entry, or else its local manifest; and for each snapshot
// [Pending] returns, the packs of it already there, sent by a push that
// has not yet made it visible. inBucket says whether a pack is in the
// bucket.
func (l *Ledger) Live(s *chunkstore.Store, visible []string, policy func(string) retention.Policy, inBucket func(chunkstore.ID) bool) (*Liveness, error) {
	live := &Liveness{Packs: map[chunkstore.ID]bool{}, Sets: map[string]bool{}}
	pending, unknown, err := l.Pending(s, visible, policy)
	if err != nil {
		return nil, err
	}
	live.Unknown = unknown
	local, err := manifest.Names(s)
	if err != nil {
		return nil, err
	}
	add := func(m *manifest.Manifest) error {
		packs, _, err := Packs(s, m.Blobs, inBucket)
		for _, p := range packs {
			live.Packs[p] = true
		}
		if m.Version == manifest.Version2 {
			live.Sets[manifest.SetName(m.Base)] = true
		}
		return err
	}
	for _, name := range visible {
		if e, ok := l.Snapshots[name]; ok {
			for _, p := range e.Packs {
				id, err := chunkstore.ParseID(p)
				if err != nil {
					return nil, fmt.Errorf("%s: snapshot %s: %w", s.Path(ledgerFile), name, err)
				}
				live.Packs[id] = true
			}
			if e.Set != "" {
				live.Sets[e.Set] = true
			}
			continue
		}
		m := loadLocal(s, local, name)
		if m == nil {
			live.Unknown = append(live.Unknown, name)
			continue
		}
		if err := add(m); err != nil {
			return nil, err
		}
	}
	for _, m := range pending {
		if err := add(m); err != nil {
			return nil, err
		}
	}
	slices.Sort(live.Unknown)
	return live, nil
}

// loadLocal loads a local snapshot's manifest; nil when there is none or
// it does not load.
func loadLocal(s *chunkstore.Store, local []string, name string) *manifest.Manifest {
	if !slices.Contains(local, name) {
		return nil
	}
	m, err := manifest.Load(s, name)
	if err != nil {
		return nil
	}
	return m
}

// Pending returns the local snapshots that are not in the bucket (not
// among visible) and that retention would keep there once they were,
// oldest first: what a push sends, and what retention in the bucket
// must not collect the packs of, sent by a push still in progress.
// Retention (policy; nil keeps everything) is applied to each kind's
// visible and local-only snapshots together. unknown names the local
// snapshots whose manifests do not load: their packs are unknown.
func (l *Ledger) Pending(s *chunkstore.Store, visible []string, policy func(string) retention.Policy) (pending []*manifest.Manifest, unknown []string, err error) {
	local, err := manifest.Names(s)
	if err != nil {
		return nil, nil, err
	}
	byKind := map[string][]retention.Item{}
	for _, name := range visible {
		kind, t, err := manifest.ParseName(name)
		if err != nil {
			continue
		}
		e, known := l.Snapshots[name]
		byKind[kind] = append(byKind[kind], retention.Item{Name: name, Time: t, Incomplete: e.Incomplete || !known && !slices.Contains(local, name)})
	}
	candidates := map[string]*manifest.Manifest{}
	for _, name := range local {
		if slices.Contains(visible, name) {
			continue
		}
		m, err := manifest.Load(s, name)
		if err != nil {
			unknown = append(unknown, name)
			continue
		}
		candidates[name] = m
		byKind[m.Kind] = append(byKind[m.Kind], retention.Item{Name: name, Time: m.Time, Incomplete: m.Incomplete})
	}
	for kind, items := range byKind {
		p := retention.Policy{}
		if policy != nil {
			p = policy(kind)
		}
		for _, d := range retention.Apply(p, items) {
			if m, ok := candidates[d.Name]; ok && d.Keep {
				pending = append(pending, m)
			}
		}
	}
	slices.SortFunc(pending, func(a, b *manifest.Manifest) int { return strings.Compare(a.Name, b.Name) })
	return pending, unknown, nil
}

// entry is the ledger entry of a snapshot m that needs packs.
func entry(packs []chunkstore.ID, m *manifest.Manifest) Entry {
	e := Entry{Packs: make([]string, len(packs)), Incomplete: m.Incomplete}
	if m.Version == manifest.Version2 {
		e.Set = manifest.SetName(m.Base)
	}
	for i, p := range packs {
		e.Packs[i] = p.String()
	}
	return e
}

// RecordBucket records in the ledger every snapshot in the bucket that it
// lacks, reading their manifests there (the one case that needs the
// permission to read): a device that adopted the bucket's repository
// then knows what the snapshots it did not push need, and retention in
// the bucket can collect their packs once they go.
func RecordBucket(ctx context.Context, s *chunkstore.Store, b *remote.Bucket) error {
	fsys, err := b.FS(ctx, 0)
	if err != nil {
		return err
	}
	defer fsys.Close()
	keys, err := s.Keys()
	if err != nil {
		return err
	}
	rs, err := remote.Open(fsys, keys, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", b, err)
	}
	defer rs.Close()
	l, err := LoadLedger(s)
	if err != nil {
		return err
	}
	listing := fsys.Listing()
	inBucket := func(id chunkstore.ID) bool { _, ok := listing[chunkstore.PackName(id)]; return ok }
	for _, name := range SnapshotNames(listing) {
		if _, ok := l.Snapshots[name]; ok {
			continue
		}
		m, err := manifest.Load(rs, name)
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		packs, _, err := Packs(s, m.Blobs, inBucket)
		if err != nil {
			return err
		}
		l.Snapshots[name] = entry(packs, m)
	}
	return l.Save(s)
}
