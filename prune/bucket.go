package prune

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/offsite"
	"github.com/pocketsnap/pocketsnap/remote"
	"github.com/pocketsnap/pocketsnap/retention"
)

// BucketOptions tune the retention mirror.
type BucketOptions struct {
	// Policy gives each kind's retention policy, the same as the local
	// repository's.
	Policy func(kind string) retention.Policy
	// BackupDir is the directory of the local classic archives
	// (${BACKUP_DIR}), each kind's in <kind>/; "": the bucket's archives
	// are left alone.
	BackupDir string
	// DryRun computes what would be deleted and deletes nothing.
	DryRun bool
	// After, for a dry run, is the dry run of the push that precedes
	// the prune: the prune is computed as if it had run.
	After *offsite.PushResult
	// Warn reports problems that do not stop the prune.
	Warn func(format string, args ...any)
}

// Object is an object deleted from the bucket.
type Object struct {
	Name string `json:"name"`
	Size int64  `json:"bytes"`
}

// BucketResult says what the retention mirror deleted (or would delete).
type BucketResult struct {
	// Snapshots are the snapshots deleted, Packs the packs, Sets the set
	// objects.
	Snapshots []string
	Packs     []Object
	Sets      []Object
	// Archives are the classic archives' files deleted, sidecars first.
	Archives []Object
	// Kept counts the snapshots the bucket keeps; Remaining names them.
	Kept      int
	Remaining []string
	// Skipped says why nothing was deleted, when that is the case.
	Skipped string
	// Unknown names the snapshots in the bucket whose packs the device
	// cannot tell; while there are any, no pack is deleted.
	Unknown []string
}

// PackBytes is the size of the packs deleted.
func (r *BucketResult) PackBytes() int64 { return size(r.Packs) }

// ArchiveBytes is the size of the archives' files deleted.
func (r *BucketResult) ArchiveBytes() int64 { return size(r.Archives) }

func size(objects []Object) int64 {
	var n int64
	for _, o := range objects {
		n += o.Size
	}
	return n
}

// Bucket applies the retention policy to the snapshots and the classic
// archives in the bucket: it deletes the manifests the policy drops, the
// archives it drops (sidecars first), then the packs that neither a kept
// snapshot nor a local snapshot on its way there (a push in progress)
// needs. It reads nothing from the bucket but its listing: liveness comes
// from the device's ledger and local manifests, and it deletes no pack
// while some kept snapshot's packs are unknown to the device. It never
// deletes anything when the local repository holds no snapshot or the
// bucket holds another repository, and never a snapshot (or archive)
// newer than the newest local one of its kind. The caller holds the push
// lock.
func Bucket(ctx context.Context, s *chunkstore.Store, b *remote.Bucket, opt BucketOptions) (*BucketResult, error) {
	res := &BucketResult{}
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
	newest := offsite.Newest(local)
	objects, err := b.ListObjects(ctx)
	if err != nil {
		return nil, err
	}
	if err := offsite.CheckIdentity(ctx, s, b, objects); err != nil {
		return nil, err
	}
	ledger, err := offsite.LoadLedger(s)
	if err != nil {
		return nil, err
	}
	if opt.After != nil {
		ledger = ledger.Clone()
		opt.After.Assume(objects, ledger)
	}
	if _, ok := objects[chunkstore.ConfigName]; !ok {
		res.Skipped = "the bucket holds no repository"
		return res, nil
	}
	listing := offsite.Sizes(objects)

	kept := snapshotsToKeep(listing, ledger, local, newest, opt.Policy, res, warn)
	res.Kept, res.Remaining = len(kept), kept
	if opt.BackupDir != "" {
		if err := archivesToDrop(listing, opt.BackupDir, opt.Policy, res); err != nil {
			return nil, err
		}
	}
	inBucket := func(id chunkstore.ID) bool { _, ok := listing[chunkstore.PackName(id)]; return ok }
	live, err := ledger.Live(s, kept, opt.Policy, inBucket)
	if err != nil {
		return nil, err
	}
	if res.Unknown = live.Unknown; len(res.Unknown) > 0 {
		warn("no pack deleted from %s: this device cannot tell which packs %s need (neither pushed from here nor readable in the local repository); packs are collected again once retention drops them, or once their manifests snapshots/NAME are deleted from the bucket",
			b, strings.Join(res.Unknown, ", "))
	} else {
		res.Packs = deadPacks(listing, live.Packs, warn)
		res.Sets = deadSets(listing, live.Sets)
	}
	if opt.DryRun {
		return res, nil
	}
	return res, apply(ctx, s, b, ledger, listing, res)
}

// snapshotsToKeep applies the policy to the bucket's snapshots, adding
// the dropped ones to res; it returns the kept ones. An incomplete
// snapshot, by the device's records, does not count; one the device
// knows nothing of is taken as incomplete, so it keeps more.
func snapshotsToKeep(listing map[string]int64, ledger *offsite.Ledger, local []string, newest map[string]string,
	policy func(string) retention.Policy, res *BucketResult, warn func(string, ...any)) []string {
	byKind := map[string][]retention.Item{}
	for _, name := range offsite.SnapshotNames(listing) {
		kind, t, _ := manifest.ParseName(name)
		byKind[kind] = append(byKind[kind], retention.Item{Name: name, Time: t, Incomplete: incomplete(name, ledger, local)})
	}
	var kept []string
	for _, kind := range slices.Sorted(maps.Keys(byKind)) {
		limit := stampOf(newest[kind])
		for _, d := range retention.Apply(policy(kind), byKind[kind]) {
			if d.Keep || limit.IsZero() || d.Time.After(limit) {
				kept = append(kept, d.Name)
				continue
			}
			res.Snapshots = append(res.Snapshots, d.Name)
		}
	}
	slices.Sort(kept)
	slices.Sort(res.Snapshots)
	return kept
}

// incomplete says whether a snapshot in the bucket is incomplete, by the
// ledger; not knowing counts as incomplete.
func incomplete(name string, ledger *offsite.Ledger, local []string) bool {
	if e, ok := ledger.Snapshots[name]; ok {
		return e.Incomplete
	}
	return !slices.Contains(local, name)
}

func stampOf(name string) time.Time {
	if name == "" {
		return time.Time{}
	}
	_, t, _ := manifest.ParseName(name)
	return t
}

// archivesToDrop applies each kind's policy to its classic archives in
// the bucket, adding the files of the dropped ones to res. Kinds without
// a local archive are left alone, and so are archives newer than the
// newest local one.
func archivesToDrop(listing map[string]int64, backupDir string, policy func(string) retention.Policy, res *BucketResult) error {
	byKind := map[string][]string{}
	for name := range listing {
		rest, ok := strings.CutPrefix(name, remote.ArchivesDir+"/")
		if !ok {
			continue
		}
		if kind, _, ok := strings.Cut(rest, "/"); ok && manifest.CheckKind(kind) == nil {
			byKind[kind] = append(byKind[kind], name)
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(byKind)) {
		p := policy(kind)
		if p.KeepsAll() {
			continue
		}
		locals, err := compat.List(compat.Dir(backupDir, kind), kind)
		if err != nil {
			return err
		}
		if len(locals) == 0 {
			continue
		}
		limit := locals[len(locals)-1].Time
		for _, a := range dropArchives(p, compat.Group(byKind[kind], kind)) {
			if a.Time.After(limit) {
				continue
			}
			for _, f := range a.Files {
				res.Archives = append(res.Archives, Object{Name: f, Size: listing[f]})
			}
		}
	}
	return nil
}

// deadPacks returns the bucket's packs that are not live. An object under
// data/ that is not named as a pack is reported and left alone.
func deadPacks(listing map[string]int64, live map[chunkstore.ID]bool, warn func(string, ...any)) []Object {
	var out []Object
	for _, name := range slices.Sorted(maps.Keys(listing)) {
		rest, ok := strings.CutPrefix(name, "data/")
		if !ok || chunkstore.IsTemp(name) {
			continue
		}
		id, err := chunkstore.ParseID(path.Base(rest))
		if err != nil || chunkstore.PackName(id) != name {
			warn("unexpected object %s in the bucket left alone", name)
			continue
		}
		if !live[id] {
			out = append(out, Object{Name: name, Size: listing[name]})
		}
	}
	return out
}

// deadSets returns the set objects in the bucket that no snapshot there,
// nor one on its way there, needs.
func deadSets(listing map[string]int64, live map[string]bool) []Object {
	var out []Object
	for _, name := range slices.Sorted(maps.Keys(listing)) {
		if strings.HasPrefix(name, manifest.SetsDir+"/") && !chunkstore.IsTemp(name) && !live[name] {
			out = append(out, Object{Name: name, Size: listing[name]})
		}
	}
	return out
}

// apply deletes what res lists: manifests, archives, then packs and set
// objects, and
// brings the device's records up to date.
func apply(ctx context.Context, s *chunkstore.Store, b *remote.Bucket, ledger *offsite.Ledger, listing map[string]int64, res *BucketResult) error {
	for _, name := range res.Snapshots {
		if err := b.Remove(ctx, path.Join(manifest.Dir, name)); err != nil {
			return err
		}
	}
	for _, a := range res.Archives {
		if err := b.Remove(ctx, a.Name); err != nil {
			return err
		}
	}
	ids := make([]chunkstore.ID, 0, len(res.Packs))
	for _, p := range res.Packs {
		if err := b.Remove(ctx, p.Name); err != nil {
			return err
		}
		id, _ := chunkstore.ParseID(path.Base(p.Name))
		ids = append(ids, id)
	}
	if err := s.ForgetRemote(ids); err != nil {
		return err
	}
	for _, o := range res.Sets {
		if err := b.Remove(ctx, o.Name); err != nil {
			return err
		}
	}
	for name := range ledger.Snapshots {
		if _, ok := listing[path.Join(manifest.Dir, name)]; !ok || slices.Contains(res.Snapshots, name) {
			ledger.Forget(name)
		}
	}
	return ledger.Save(s)
}

// String summarises the result, for logs.
func (r *BucketResult) String() string {
	if r.Skipped != "" {
		return "nothing deleted: " + r.Skipped
	}
	return fmt.Sprintf("deleted %d snapshots, %d archive files and %d packs; %d snapshots kept", len(r.Snapshots), len(r.Archives), len(r.Packs), r.Kept)
}
