package remote

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/retention"
)

// PruneOptions tune the retention mirror.
type PruneOptions struct {
	// Policy gives each kind's retention policy, the same as the local
	// repository's.
	Policy func(kind string) retention.Policy
	// DryRun computes what would be deleted and deletes nothing.
	DryRun bool
	// Warn reports problems that do not stop the prune.
	Warn func(format string, args ...any)
}

// PruneResult says what the retention mirror deleted (or would delete).
type PruneResult struct {
	// Snapshots are the snapshots deleted, Packs the packs.
	Snapshots []string
	Packs     []Upload
	// Kept counts the snapshots the bucket keeps; Remaining names them.
	Kept      int
	Remaining []string
	// Skipped says why nothing was deleted, when that is the case.
	Skipped string
}

// PackBytes is the size of the packs deleted.
func (r *PruneResult) PackBytes() int64 { return totalSize(r.Packs) }

// Prune applies the retention policy to the snapshots in the bucket:
// it deletes the manifests the policy drops, then the packs in which no
// kept snapshot references a blob. It never deletes anything when the
// local repository holds no snapshot or the bucket holds another
// repository, and never a snapshot newer than the newest local one. A
// manifest in the bucket that does not authenticate under the device's
// keys is reported and left alone; it keeps nothing alive; a bucket whose
// config does not authenticate is refused. The caller
// holds the push lock.
func Prune(ctx context.Context, s *chunkstore.Store, b *Bucket, opt PruneOptions) (*PruneResult, error) {
	res := &PruneResult{}
	warn := opt.Warn
	if warn == nil {
		warn = func(string, ...any) {}
	}
	local, err := manifest.Names(s)
	if err != nil {
		return nil, err
	}
	if len(local) == 0 {
		res.Skipped = "the local repository holds no snapshot"
		return res, nil
	}
	_, newest, _ := manifest.ParseName(local[len(local)-1])
	listing, err := b.List(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := listing[chunkstore.ConfigName]; !ok {
		res.Skipped = "the bucket holds no repository"
		return res, nil
	}
	if err := checkIdentity(ctx, s, b, listing); err != nil {
		return nil, err
	}
	keys, err := s.Keys()
	if err != nil {
		return nil, err
	}
	// The bucket as a read-only store with the device's secrets: its
	// config and manifests authenticate as they would locally.
	fsys, err := b.fsOf(ctx, listing, 0)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	rs, err := chunkstore.OpenFS(fsys, keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	defer rs.Close()
	byKind := map[string][]retention.Item{}
	manifests := map[string]*manifest.Manifest{}
	for name := range listing {
		sname, ok := strings.CutPrefix(name, manifest.Dir+"/")
		if !ok || chunkstore.IsTemp(sname) {
			continue
		}
		kind, t, err := manifest.ParseName(sname)
		if err != nil {
			warn("%s: unexpected object %s left alone", b, name)
			continue
		}
		m, err := manifest.Load(rs, sname)
		if err != nil {
			warn("%s: %v; left alone", b, err)
			continue
		}
		manifests[sname] = m
		byKind[kind] = append(byKind[kind], retention.Item{Name: sname, Time: t, Incomplete: m.Incomplete})
	}
	for _, kind := range sortedKeys(byKind) {
		for _, d := range retention.Apply(opt.Policy(kind), byKind[kind]) {
			if d.Keep || d.Time.After(newest) {
				continue
			}
			res.Snapshots = append(res.Snapshots, d.Name)
			delete(manifests, d.Name)
		}
	}
	res.Kept = len(manifests)
	res.Remaining = sortedKeys(manifests)
	slices.Sort(res.Snapshots)
	kept := make([]*manifest.Manifest, 0, len(manifests))
	for _, m := range manifests {
		kept = append(kept, m)
	}
	garbage, err := deadPacks(s, listing, manifest.Referenced(kept))
	if err != nil {
		return nil, err
	}
	res.Packs = garbage
	if opt.DryRun {
		return res, nil
	}
	for _, name := range res.Snapshots {
		if err := b.Remove(ctx, path.Join(manifest.Dir, name)); err != nil {
			return res, err
		}
	}
	ids := make([]chunkstore.ID, 0, len(garbage))
	for _, p := range garbage {
		if err := b.Remove(ctx, p.Name); err != nil {
			return res, err
		}
		id, _ := chunkstore.ParseID(path.Base(p.Name))
		ids = append(ids, id)
	}
	return res, s.ForgetRemote(ids)
}

// deadPacks returns the bucket's packs in which no live blob counts,
// judged by what the device knows of their contents. Packs it knows
// nothing of are garbage only when every live blob is accounted for.
func deadPacks(s *chunkstore.Store, listing map[string]int64, live map[chunkstore.ID]struct{}) ([]Upload, error) {
	rix, err := s.RemoteIndex()
	if err != nil {
		return nil, err
	}
	var files []chunkstore.ObjectInfo
	for name, size := range listing {
		rest, ok := strings.CutPrefix(name, "data/")
		if !ok || chunkstore.IsTemp(name) {
			continue
		}
		id, err := chunkstore.ParseID(path.Base(rest))
		if err != nil {
			return nil, fmt.Errorf("unexpected object %s in the bucket: %w", name, err)
		}
		files = append(files, chunkstore.ObjectInfo{ID: id, Size: size})
	}
	var packs []chunkstore.PackInfo
	for _, p := range rix.Packs() {
		if _, ok := listing[chunkstore.PackName(p.ID)]; ok {
			packs = append(packs, p)
		}
	}
	var out []Upload
	for _, g := range chunkstore.MeasureUsage(packs, files, live).Garbage() {
		out = append(out, Upload{Name: chunkstore.PackName(g.ID), Size: g.Size})
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
