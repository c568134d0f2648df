package prune

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/retention"
)

// Options tune a rotation of the device's repository and classic
// archives.
type Options struct {
	// Policy gives each kind's retention policy.
	Policy func(kind string) retention.Policy
	// BackupDir is the directory of the classic archives (${BACKUP_DIR}),
	// each kind's in <kind>/; "": no archives.
	BackupDir string
	// DryRun computes what would be deleted and deletes nothing.
	DryRun bool
	// Forget names snapshots to delete whatever the policy says: the way
	// out for a snapshot whose manifest is damaged beyond repair.
	Forget []string
	// Repack rewrites the packs whose dead share exceeds Threshold; it
	// needs the store's identities.
	Repack    bool
	Threshold float64
}

// Report is what a rotation did, or would do; also the --json form.
type Report struct {
	DryRun    bool       `json:"dry_run"`
	Snapshots []Snapshot `json:"deleted_snapshots"`
	Kept      int        `json:"kept_snapshots"`
	Packs     []Pack     `json:"deleted_packs"`
	// Sets are the set objects (sets/<ID>) no kept snapshot names.
	Sets     []Object  `json:"deleted_sets,omitempty"`
	Archives []Archive `json:"deleted_archives"`
	// Unreadable lists the snapshots whose manifests do not load: kept,
	// and while there are any, no pack is deleted or repacked.
	Unreadable []Unreadable `json:"unreadable_snapshots,omitempty"`
	// DeadBytes are the unreferenced bytes left in DeadPacks packs that
	// are still in use.
	DeadBytes int64 `json:"dead_bytes"`
	DeadPacks int   `json:"partly_dead_packs"`
	// Repackable is what a repack would rewrite; Repacked what it did.
	Repackable RepackFigures  `json:"repackable"`
	Repacked   *RepackFigures `json:"repacked,omitempty"`
	// Unindexed counts blobs of kept snapshots that the index lacks.
	Unindexed int   `json:"unindexed_blobs,omitempty"`
	Freed     int64 `json:"freed_bytes"`
}

// Snapshot is a deleted snapshot.
type Snapshot struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Incomplete bool   `json:"incomplete"`
	Bytes      int64  `json:"bytes"`
	// Policy is the kind's policy, or "forget" for a snapshot deleted by
	// Options.Forget.
	Policy string `json:"policy"`
}

// Pack is a deleted pack.
type Pack struct {
	ID     string `json:"id"`
	Bytes  int64  `json:"bytes"`
	Orphan bool   `json:"orphan"`
}

// Archive is a deleted classic archive, with all its files.
type Archive struct {
	Name   string   `json:"name"`
	Dir    string   `json:"dir"`
	Files  []string `json:"files"`
	Bytes  int64    `json:"bytes"`
	Policy string   `json:"policy"`
}

// Unreadable is a snapshot whose manifest does not load.
type Unreadable struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

// RepackFigures count a repack's packs and the bytes it frees.
type RepackFigures struct {
	Packs    int   `json:"packs"`
	NewPacks int   `json:"new_packs,omitempty"`
	Bytes    int64 `json:"freed_bytes"`
}

// NewReport returns an empty report.
func NewReport(dryRun bool) *Report {
	return &Report{DryRun: dryRun, Snapshots: []Snapshot{}, Packs: []Pack{}, Archives: []Archive{}}
}

// Local applies retention to the repository: it deletes the snapshots
// the policies do not keep (manifests first), then the packs no kept
// snapshot uses, repacks if asked, and deletes old classic archives. A
// snapshot whose manifest does not load is kept and reported, and while
// there is one no pack is deleted: it may need any of them. The caller
// holds the exclusive lock. A run that completes, not a dry run, is
// recorded for [LastRun].
func Local(ctx context.Context, s *chunkstore.Store, opt Options) (*Report, error) {
	start := time.Now()
	rep := NewReport(opt.DryRun)
	kept, err := snapshots(s, opt, rep)
	if err != nil {
		return rep, err
	}
	if len(rep.Unreadable) == 0 {
		if err := packs(ctx, s, opt, kept, rep); err != nil {
			return rep, err
		}
	}
	if err := Archives(opt, rep); err != nil || opt.DryRun {
		return rep, err
	}
	// Issue 18.20: every caller (rotate, a backup's rotation, the
	// daemon's job) leaves the record status reads.
	return rep, markRetention(s, start)
}

// ErrUnknownSnapshot is the cause of the error of a rotation told to
// forget a snapshot that does not exist.
var ErrUnknownSnapshot = errors.New("no such snapshot")

// snapshots decides per kind and deletes the manifests of the snapshots
// not kept, and of those to forget; it returns the kept ones.
func snapshots(s *chunkstore.Store, opt Options, rep *Report) ([]*manifest.Manifest, error) {
	names, err := manifest.Names(s)
	if err != nil {
		return nil, err
	}
	for _, name := range opt.Forget {
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("snapshot %s: %w", name, ErrUnknownSnapshot)
		}
	}
	byName := map[string]*manifest.Manifest{}
	byKind := map[string][]retention.Item{}
	for _, name := range names {
		if slices.Contains(opt.Forget, name) {
			kind, _, _ := manifest.ParseName(name)
			if err := drop(s, opt, rep, Snapshot{Name: name, Kind: kind, Policy: "forget"}); err != nil {
				return nil, err
			}
			continue
		}
		m, err := manifest.Load(s, name)
		if err != nil {
			rep.Unreadable = append(rep.Unreadable, Unreadable{Name: name, Error: err.Error()})
			continue
		}
		if !opt.Repack {
			// Only a repack reads the file index (Issue 20: peak RSS).
			m.DropFileIndex()
		}
		byName[m.Name] = m
		byKind[m.Kind] = append(byKind[m.Kind], retention.Item{Name: m.Name, Time: m.Time, Incomplete: m.Incomplete})
	}
	var kept []*manifest.Manifest
	for _, kind := range slices.Sorted(maps.Keys(byKind)) {
		p := opt.Policy(kind)
		for _, d := range retention.Apply(p, byKind[kind]) {
			if d.Keep {
				kept = append(kept, byName[d.Name])
				continue
			}
			if err := drop(s, opt, rep, Snapshot{Name: d.Name, Kind: kind, Incomplete: d.Incomplete, Policy: p.String()}); err != nil {
				return nil, err
			}
		}
	}
	rep.Kept = len(kept) + len(rep.Unreadable)
	return kept, nil
}

// drop deletes a snapshot's manifest (unless in a dry run) and reports it.
func drop(s *chunkstore.Store, opt Options, rep *Report, sn Snapshot) error {
	if fi, err := os.Stat(s.Path(path.Join(manifest.Dir, sn.Name))); err == nil {
		sn.Bytes = fi.Size()
	}
	if !opt.DryRun {
		if err := manifest.Delete(s, sn.Name); err != nil {
			return err
		}
	}
	rep.Snapshots = append(rep.Snapshots, sn)
	rep.Freed += sn.Bytes
	return nil
}

// packs deletes the packs that no kept snapshot uses and the orphans,
// then measures what is left and repacks if asked.
func packs(ctx context.Context, s *chunkstore.Store, opt Options, kept []*manifest.Manifest, rep *Report) error {
	live := manifest.Referenced(kept)
	u, err := s.Usage(live)
	if err != nil {
		return err
	}
	rep.Unindexed = u.Unindexed
	orphan := map[chunkstore.ID]bool{}
	for _, o := range u.Orphans {
		orphan[o.ID] = true
	}
	var drop []chunkstore.ID
	for _, p := range u.Garbage() {
		drop = append(drop, p.ID)
		rep.Packs = append(rep.Packs, Pack{ID: p.ID.String(), Bytes: p.Size, Orphan: orphan[p.ID]})
		rep.Freed += p.Size
	}
	if !opt.DryRun && len(drop) > 0 {
		if err := s.DropPacks(drop); err != nil {
			return err
		}
	}
	if err := sets(s, opt, kept, rep); err != nil {
		return err
	}
	candidates := u.PartlyDead(opt.Threshold)
	var ids []chunkstore.ID
	for _, p := range candidates {
		ids = append(ids, p.ID)
		rep.Repackable.Packs++
		rep.Repackable.Bytes += p.DeadBytes()
	}
	repacking := opt.Repack && len(ids) > 0
	for _, p := range u.PartlyDead(0) {
		if !repacking || !slices.Contains(ids, p.ID) {
			rep.DeadPacks++
			rep.DeadBytes += p.DeadBytes()
		}
	}
	if !repacking {
		return nil
	}
	if opt.DryRun {
		rep.Freed += rep.Repackable.Bytes
		return nil
	}
	class, err := blobClasses(kept, s.Codec())
	if err != nil {
		return err
	}
	st, err := s.Repack(ctx, ids, live, class)
	if err != nil {
		return err
	}
	rep.Repacked = &RepackFigures{Packs: st.Packs, NewPacks: st.Written.Packs, Bytes: st.Size - st.Written.Stored}
	rep.Freed += rep.Repacked.Bytes
	return nil
}

// sets deletes the set objects that no kept snapshot names as its base.
func sets(s *chunkstore.Store, opt Options, kept []*manifest.Manifest, rep *Report) error {
	unused, err := manifest.UnusedSets(s, kept)
	if err != nil {
		return err
	}
	for _, f := range unused {
		if !opt.DryRun {
			if err := manifest.DeleteSet(s, f.Name); err != nil {
				return err
			}
		}
		rep.Sets = append(rep.Sets, Object{Name: f.Name, Size: f.Size})
		rep.Freed += f.Size
	}
	return nil
}

// blobClasses tells header blobs, single-blob bodies and chunks of large
// bodies apart, from the kept snapshots' details, so that a repack keeps
// them in separate packs as a backup does.
func blobClasses(kept []*manifest.Manifest, codec *chunkstore.Codec) (func(chunkstore.ID) chunkstore.Class, error) {
	classes := map[chunkstore.ID]chunkstore.Class{}
	for _, m := range kept {
		d, err := m.Open(codec)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
		}
		err = m.EachFile(func(_ int, f *manifest.File) error {
			classes[m.StreamID(f.Piece)] = chunkstore.ClassMeta
			if f.Pieces > 2 {
				for p := f.Piece + 1; p < f.Piece+f.Pieces; p++ {
					classes[m.StreamID(p)] = chunkstore.ClassChunk
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
		}
		if n := len(d.Stream); n > 0 {
			classes[m.Blobs[d.Stream[n-1]]] = chunkstore.ClassMeta // the end-of-archive marker
		}
	}
	return func(id chunkstore.ID) chunkstore.Class {
		if c, ok := classes[id]; ok {
			return c
		}
		return chunkstore.ClassBody
	}, nil
}
