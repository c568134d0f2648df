package job

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/conditions"
	"github.com/pocketsnap/pocketsnap/internal/flock"
	"github.com/pocketsnap/pocketsnap/offsite"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/prune"
	"github.com/pocketsnap/pocketsnap/remote"
	"github.com/pocketsnap/pocketsnap/retention"
)

// pushLock is held by a push for its whole run.
var pushLock = chunkstore.Local("push.lock")

// PushOptions configure an offsite push.
type PushOptions struct {
	// Open opens the device's repository; Dial connects to the bucket.
	// They are called in that order, once the conditions allow the push.
	Open func() (*chunkstore.Store, error)
	Dial func() (*remote.Bucket, error)
	// Jobs is how many objects are uploaded at once.
	Jobs int
	// MaxUpload stops the push cleanly before it sends more; 0: no cap.
	MaxUpload int64
	// DryRun computes what would be sent and deleted, and changes nothing.
	DryRun bool
	// Policy gives each kind's retention policy, applied to the bucket.
	Policy func(kind string) retention.Policy
	// BackupDir holds the classic archives pushed after the snapshots.
	BackupDir string
	// Conditions are the push's conditions; nil for none. Obeyed (the
	// daemon, --when-allowed), one not met keeps the push from starting
	// or stops it at the next object, checked every WatchEvery; ignored
	// (a push by hand), it is only reported.
	Conditions *conditions.Checker
	Obey       bool
	WatchEvery time.Duration
}

// PushResult is what a push did, or would do; also the --json summary. A
// dry run's is the real run's, but for dry_run: the same uploads and
// deletions.
type PushResult struct {
	Bucket         string           `json:"bucket"`
	DryRun         bool             `json:"dry_run"`
	PlannedObjects int              `json:"planned_objects"`
	PlannedBytes   int64            `json:"planned_bytes"`
	Uploads        []offsite.Upload `json:"uploads"`
	SentObjects    int              `json:"sent_objects"`
	SentBytes      int64            `json:"sent_bytes"`
	Snapshots      []string         `json:"snapshots"`
	Capped         bool             `json:"capped"`
	LeftObjects    int              `json:"left_objects"`
	LeftBytes      int64            `json:"left_bytes"`
	// TooLarge are the objects a single PUT cannot take: never sent.
	TooLarge []offsite.Upload `json:"too_large"`
	// DeletedSnapshots, DeletedPacks and DeletedBytes are what retention
	// in the bucket deleted (or would delete); Kept the snapshots it keeps.
	DeletedSnapshots []string `json:"deleted_snapshots"`
	DeletedPacks     int      `json:"deleted_packs"`
	DeletedBytes     int64    `json:"deleted_bytes"`
	// Deletions lists every object deleted but the manifests: packs,
	// then classic archives' files.
	Deletions []prune.Object `json:"deletions"`
	Kept      int            `json:"kept"`
	// Unknown are the bucket's snapshots whose packs the device cannot
	// tell: no pack is deleted while there are any.
	Unknown []string `json:"unknown_snapshots,omitempty"`
	// Deferred says why the push's conditions kept it from starting or
	// stopped it (--when-allowed, the daemon).
	Deferred string `json:"deferred,omitempty"`
	// Pruned is retention in the bucket's result; nil when it did not
	// run (the push was deferred).
	Pruned *prune.BucketResult `json:"-"`
}

// Push sends what the bucket lacks, a snapshot's packs before its
// manifest, then applies retention in the bucket. A push its conditions
// keep from starting or stop returns its result and a *DeferredError.
func Push(ctx context.Context, opt PushOptions, r Reporter) (*PushResult, error) {
	stopWhy := func() string { return "" }
	if c := opt.Conditions; c != nil {
		v := c.Push(ctx)
		switch {
		case !v.Allowed && opt.Obey:
			return &PushResult{Deferred: v.Reason}, &DeferredError{Reason: v.Reason}
		case !v.Allowed:
			reportf(r, Warning, "%s (detector: %s): the daemon would not push now; pushing anyway, as asked by hand ('push --when-allowed' waits)", v.Reason, v.Detector)
		case opt.Obey:
			w := c.WatchPush(ctx, opt.WatchEvery)
			defer w.Close()
			stopWhy = w.Stop
		}
	}
	s, err := opt.Open()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// A push only reads what backups and rotations write atomically, so it
	// does not hold the repository lock for what may be hours on a slow
	// link, which would hold up the next backup; one push at a time.
	pl, err := flock.Take(s.Path(pushLock), true)
	if err != nil {
		return nil, fmt.Errorf("another push is running: %w", err)
	}
	defer pl.Unlock()
	b, err := opt.Dial()
	if err != nil {
		return nil, err
	}
	files, err := offsite.ClassicArchives(opt.BackupDir)
	if err != nil {
		return nil, err
	}
	popt := offsite.PushOptions{Jobs: opt.Jobs, MaxUpload: opt.MaxUpload, DryRun: opt.DryRun, Files: files, Policy: opt.Policy, Stop: stopWhy}
	prog := new(pipeline.Progress)
	stop := func() {}
	popt.Planned = func(_ int, bytes int64) { stop = r.Progress("push", "objects", bytes, prog) }
	popt.Progress = func(bytes int64, objects int) {
		prog.Bytes.Store(bytes)
		prog.Entries.Store(int64(objects))
	}
	res, err := offsite.Push(ctx, s, b, popt)
	stop()
	if err != nil {
		return nil, err
	}
	out := &PushResult{
		Bucket: b.String(), DryRun: opt.DryRun,
		PlannedObjects: len(res.Planned), PlannedBytes: res.PlannedBytes(), Uploads: nonNil(res.Sending),
		SentObjects: res.SentObjects, SentBytes: res.SentBytes, Snapshots: nonNil(res.Snapshots),
		Capped: res.Capped, LeftObjects: res.LeftObjects, LeftBytes: res.LeftBytes, TooLarge: nonNil(res.TooLarge),
	}
	warnPush(res, r)
	if res.Stopped != "" {
		// Retention in the bucket waits too: it would take the packs of
		// the snapshot being sent for orphans.
		reportf(r, Warning, "stopped: %s: %d objects (%s) are left for the next push, which sends nothing twice; retention in the bucket waits for it", res.Stopped, res.LeftObjects, size(res.LeftBytes))
		out.Deferred = res.Stopped
		return out, &DeferredError{Reason: res.Stopped}
	}
	if res.Capped {
		reportf(r, Warning, "stopped at the upload cap of %s: %d objects (%s) are left for the next push", size(opt.MaxUpload), res.LeftObjects, size(res.LeftBytes))
	}
	bopt := prune.BucketOptions{Policy: opt.Policy, BackupDir: opt.BackupDir, DryRun: opt.DryRun,
		Warn: func(format string, a ...any) { reportf(r, Warning, format, a...) }}
	if opt.DryRun {
		bopt.After = res
	}
	pruned, err := prune.Bucket(ctx, s, b, bopt)
	if err != nil {
		return out, fmt.Errorf("retention in the bucket: %w", err)
	}
	out.Pruned = pruned
	out.DeletedSnapshots, out.DeletedPacks, out.Deletions = nonNil(pruned.Snapshots), len(pruned.Packs), append(slices.Clip(nonNil(pruned.Packs)), pruned.Archives...)
	out.DeletedBytes, out.Kept, out.Unknown = pruned.PackBytes()+pruned.ArchiveBytes(), pruned.Kept, pruned.Unknown
	if opt.DryRun {
		return out, nil
	}
	return out, offsite.SaveRecord(s, offsite.PushRecord{
		Bucket: out.Bucket, Time: time.Now().UTC(), Newest: offsite.Newest(pruned.Remaining),
		SentBytes: res.SentBytes, SentObjects: res.SentObjects,
	})
}

// warnPush says what a push could not send, and how to recover.
func warnPush(res *offsite.PushResult, r Reporter) {
	for _, u := range res.TooLarge {
		reportf(r, Warning, "NOT SENT: %s is %s: an object of 5 GiB or more cannot go in a single PUT, so it is never attempted", u.Name, size(u.Size))
		if snap, _, ok := strings.Cut(path.Base(u.Name), compat.Ext); ok && strings.HasPrefix(u.Name, remote.ArchivesDir+"/") {
			reportf(r, Hint, "write that archive again in parts below 5 GiB (the default --part-size), then delete the whole file: pocketsnap export %s -o DIR/", snap)
		}
	}
	for _, name := range res.Unreadable {
		reportf(r, Warning, "snapshot %s not sent: its manifest does not load (run: pocketsnap check)", name)
	}
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
