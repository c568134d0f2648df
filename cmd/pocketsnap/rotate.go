package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/config"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/retention"
)

// keepFamily are the retention counts' keys, BACKUP_KEEP_DB and
// BACKUP_KEEP_ROOTFS (with the old rotate-backups.sh's defaults) and any
// other kind's; a kind without one keeps everything.
const keepFamily = "BACKUP_KEEP_<KIND>"

// keepPolicies are the retention policies of every kind.
type keepPolicies struct {
	last     map[string]int
	calendar retention.Policy // the calendar rules, for every kind
}

func (k keepPolicies) of(kind string) retention.Policy {
	p := k.calendar
	p.Last = k.last[kind]
	return p
}

// keepPolicies reads the counts: the defaults, then BACKUP_KEEP_<KIND>
// from the configuration, then the --keep KIND=N flags.
func (e *env) keepPolicies(flags []string, calendar retention.Policy) (keepPolicies, error) {
	k := keepPolicies{last: map[string]int{}, calendar: calendar}
	for _, key := range e.cfg.Members(keepFamily) {
		kind := config.Kind(keepFamily, key)
		n, err := keepCount(kind, e.cfg.Value(key))
		if err != nil {
			return k, fmt.Errorf("%s (%s): %w", key, e.cfg.Source(key), err)
		}
		k.last[kind] = n
	}
	for _, f := range flags {
		kind, v, _ := strings.Cut(f, "=")
		n, err := keepCount(kind, v)
		if err != nil {
			return k, usageErrorf("--keep %s: %v (want KIND=N)", f, err)
		}
		k.last[kind] = n
	}
	return k, nil
}

func keepCount(kind, v string) (int, error) {
	if err := manifest.CheckKind(kind); err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a positive number of snapshots (leave it unset to keep every %s snapshot)", v, kind)
	}
	return n, nil
}

// rotation applies retention to a repository and to the classic archives
// in ${BACKUP_DIR}/<kind>/. The caller holds the exclusive lock.
type rotation struct {
	e         *env
	pol       keepPolicies
	dryRun    bool
	repack    bool    // with the identity loaded
	threshold float64 // dead share above which a pack is worth a repack
}

// rotateReport is what a rotation did, or would do; also the --json form.
type rotateReport struct {
	DryRun    bool              `json:"dry_run"`
	Snapshots []rotatedSnapshot `json:"deleted_snapshots"`
	Kept      int               `json:"kept_snapshots"`
	Packs     []rotatedPack     `json:"deleted_packs"`
	Archives  []rotatedArchive  `json:"deleted_archives"`
	// DeadBytes are the unreferenced bytes left in DeadPacks packs that
	// are still in use.
	DeadBytes int64 `json:"dead_bytes"`
	DeadPacks int   `json:"partly_dead_packs"`
	// Repackable is what a repack would rewrite; Repacked what it did.
	Repackable repackFigures  `json:"repackable"`
	Repacked   *repackFigures `json:"repacked,omitempty"`
	// Unindexed counts blobs of kept snapshots that the index lacks.
	Unindexed int   `json:"unindexed_blobs,omitempty"`
	Freed     int64 `json:"freed_bytes"`
}

type rotatedSnapshot struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Incomplete bool   `json:"incomplete"`
	Bytes      int64  `json:"bytes"`
	Policy     string `json:"policy"`
}

type rotatedPack struct {
	ID     string `json:"id"`
	Bytes  int64  `json:"bytes"`
	Orphan bool   `json:"orphan"`
}

type rotatedArchive struct {
	Name   string   `json:"name"`
	Dir    string   `json:"dir"`
	Files  []string `json:"files"`
	Bytes  int64    `json:"bytes"`
	Policy string   `json:"policy"`
}

type repackFigures struct {
	Packs    int   `json:"packs"`
	NewPacks int   `json:"new_packs,omitempty"`
	Bytes    int64 `json:"freed_bytes"`
}

// run deletes the snapshots the policies do not keep (manifests first),
// then the packs no kept snapshot uses, repacks if asked, and deletes old
// classic archives.
func (r *rotation) run(ctx context.Context, s *chunkstore.Store) (*rotateReport, error) {
	rep := r.newReport()
	kept, err := r.snapshots(s, rep)
	if err != nil {
		return rep, err
	}
	if err := r.packs(ctx, s, kept, rep); err != nil {
		return rep, err
	}
	return rep, r.archives(rep)
}

func (r *rotation) newReport() *rotateReport {
	return &rotateReport{DryRun: r.dryRun, Snapshots: []rotatedSnapshot{}, Packs: []rotatedPack{}, Archives: []rotatedArchive{}}
}

// snapshots decides per kind and deletes the manifests of the snapshots
// not kept; it returns the kept ones.
func (r *rotation) snapshots(s *chunkstore.Store, rep *rotateReport) ([]*manifest.Manifest, error) {
	list, err := manifest.List(s)
	if err != nil {
		return nil, err
	}
	byName := map[string]*manifest.Manifest{}
	byKind := map[string][]retention.Item{}
	for _, m := range list {
		byName[m.Name] = m
		byKind[m.Kind] = append(byKind[m.Kind], retention.Item{Name: m.Name, Time: m.Time, Incomplete: m.Incomplete})
	}
	var kept []*manifest.Manifest
	for _, kind := range slices.Sorted(maps.Keys(byKind)) {
		p := r.pol.of(kind)
		for _, d := range retention.Apply(p, byKind[kind]) {
			if d.Keep {
				kept = append(kept, byName[d.Name])
				continue
			}
			fi, _ := os.Stat(s.Path(path.Join(manifest.Dir, d.Name)))
			rs := rotatedSnapshot{Name: d.Name, Kind: kind, Incomplete: d.Incomplete, Policy: p.String()}
			if fi != nil {
				rs.Bytes = fi.Size()
			}
			if !r.dryRun {
				if err := manifest.Delete(s, d.Name); err != nil {
					return nil, err
				}
			}
			rep.Snapshots = append(rep.Snapshots, rs)
			rep.Freed += rs.Bytes
		}
	}
	rep.Kept = len(kept)
	return kept, nil
}

// packs deletes the packs that no kept snapshot uses and the orphans,
// then measures what is left and repacks if asked.
func (r *rotation) packs(ctx context.Context, s *chunkstore.Store, kept []*manifest.Manifest, rep *rotateReport) error {
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
		rep.Packs = append(rep.Packs, rotatedPack{ID: p.ID.String(), Bytes: p.Size, Orphan: orphan[p.ID]})
		rep.Freed += p.Size
	}
	if !r.dryRun && len(drop) > 0 {
		if err := s.DropPacks(drop); err != nil {
			return err
		}
	}
	candidates := u.PartlyDead(r.threshold)
	var ids []chunkstore.ID
	for _, p := range candidates {
		ids = append(ids, p.ID)
		rep.Repackable.Packs++
		rep.Repackable.Bytes += p.DeadBytes()
	}
	repacking := r.repack && len(ids) > 0
	for _, p := range u.PartlyDead(0) {
		if !repacking || !slices.Contains(ids, p.ID) {
			rep.DeadPacks++
			rep.DeadBytes += p.DeadBytes()
		}
	}
	if !repacking {
		return nil
	}
	if r.dryRun {
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
	rep.Repacked = &repackFigures{Packs: st.Packs, NewPacks: st.Written.Packs, Bytes: st.Size - st.Written.Stored}
	rep.Freed += rep.Repacked.Bytes
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
		for _, f := range d.Files {
			classes[m.Blobs[d.Stream[f.Piece]]] = chunkstore.ClassMeta
			if f.Pieces > 2 {
				for _, n := range d.Stream[f.Piece+1 : f.Piece+f.Pieces] {
					classes[m.Blobs[n]] = chunkstore.ClassChunk
				}
			}
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
