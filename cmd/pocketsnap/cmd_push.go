package main

import (
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/internal/flock"
	"github.com/pocketsnap/pocketsnap/offsite"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/prune"
	"github.com/pocketsnap/pocketsnap/remote"
	"github.com/pocketsnap/pocketsnap/retention"
)

// pushSummary is the --json summary of a push. A dry run's is the real
// run's, but for dry_run: the same uploads and deletions.
type pushSummary struct {
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
}

// pushLock is held by a push for its whole run.
var pushLock = chunkstore.Local("push.lock")

type pushOptions struct {
	dryRun      bool
	whenAllowed bool
	jobs        int
	limit       byteSize
	maxUpload   byteSize
}

func pushCommand() *command {
	var o pushOptions
	return &command{
		name: "push", group: "Back up",
		summary: "send new snapshots to the S3 bucket, then apply retention there (needs only the recipient)",
		usage: "push [--dry-run] [--when-allowed] [--jobs N] [--limit-upload RATE] [--max-upload SIZE]" + `

Uploads what the bucket lacks, a snapshot's packs before its manifest,
then applies BACKUP_KEEP_* to the bucket. A push by hand ignores the
push's conditions (OFFSITE_NETWORK, OFFSITE_WHEN_CMD, BACKUP_POWER,
BACKUP_MIN_BATTERY) but says when one is not met; with --when-allowed,
as in the daemon, it does not start then, and stops cleanly at the next
object when one stops holding (the next push continues, sending nothing
twice). The S3_* keys are read from
${DATA_DIR}/secrets/offsite.env only, which must be mode 0600.`,
		keys: []string{"ENABLE_OFFSITE_BACKUP", "DATA_DIR", "BACKUP_DIR", "BACKUP_KEEP_<KIND>", "OFFSITE_MAX_UPLOAD_PER_RUN",
			"OFFSITE_NETWORK", "OFFSITE_WHEN_CMD", "BACKUP_POWER", "BACKUP_MIN_BATTERY",
			"S3_ENDPOINT", "S3_BUCKET", "S3_REGION", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_PREFIX", "S3_CA_FILE"},
		examples: []string{
			"pocketsnap push --dry-run              # what would be uploaded and deleted, in objects and bytes",
			"pocketsnap push --limit-upload 200K    # at most 200 KiB/s on the SIM",
			"pocketsnap push --max-upload 50M       # stop after 50 MiB; the next push continues (db snapshots go first)",
			"pocketsnap push --when-allowed         # only on Wi-Fi (OFFSITE_NETWORK=wifi) with power to spare, as the daemon",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be uploaded and deleted; change nothing")
			fs.BoolVar(&o.whenAllowed, "when-allowed", false, "push only while the push's conditions hold, as the daemon does")
			fs.IntVar(&o.jobs, "jobs", 4, "upload `N` objects at once")
			fs.Var(&o.limit, "limit-upload", "cap the upload rate at `RATE` bytes per second (e.g. 200K, 1M)")
			fs.Var(&o.maxUpload, "max-upload", "stop cleanly before sending more than `SIZE` in this run (default OFFSITE_MAX_UPLOAD_PER_RUN, else no cap)")
			return func(ctx context.Context, e *env, args []string) error { return runPush(ctx, e, o, args) }
		},
	}
}

func runPush(ctx context.Context, e *env, o pushOptions, args []string) error {
	if len(args) > 0 {
		return usageErrorf("push takes no arguments")
	}
	if o.jobs < 1 {
		return usageErrorf("--jobs must be at least 1")
	}
	if on, why, err := e.enabled("ENABLE_OFFSITE_BACKUP"); err != nil {
		return err
	} else if !on {
		return &hintError{
			err:  fmt.Errorf("offsite backup is off (%s)", why),
			hint: "set ENABLE_OFFSITE_BACKUP=true in .env, and create ${DATA_DIR}/secrets/offsite.env (mode 0600)",
		}
	}
	if o.maxUpload == 0 {
		if v := e.cfg.Value("OFFSITE_MAX_UPLOAD_PER_RUN"); v != "" && v != "0" {
			if err := o.maxUpload.Set(v); err != nil {
				return fmt.Errorf("OFFSITE_MAX_UPLOAD_PER_RUN (%s): %w", e.cfg.Source("OFFSITE_MAX_UPLOAD_PER_RUN"), err)
			}
		}
	}
	pol, err := e.keepPolicies(nil, retention.Policy{})
	if err != nil {
		return err
	}
	gate, err := e.startPushGate(ctx, o.whenAllowed || e.scheduled)
	if err != nil {
		return err
	}
	defer gate.close()
	if gate.blocked != "" {
		e.ui.summary(pushSummary{Deferred: gate.blocked})
		return e.pushDeferred(gate.blocked)
	}
	s, err := e.openStore(false)
	if err != nil {
		return err
	}
	defer s.Close()
	// A push only reads what backups and rotations write atomically, so it
	// does not hold the repository lock for what may be hours on a slow
	// link, which would hold up the next backup; one push at a time.
	pl, err := flock.Take(s.Path(pushLock), true)
	if err != nil {
		return fmt.Errorf("another push is running: %w", err)
	}
	defer pl.Unlock()
	b, err := e.bucket(remote.Options{UploadLimit: int64(o.limit)})
	if err != nil {
		return err
	}
	files, err := offsite.ClassicArchives(e.cfg.Value("BACKUP_DIR"))
	if err != nil {
		return err
	}
	opt := offsite.PushOptions{Jobs: o.jobs, MaxUpload: int64(o.maxUpload), DryRun: o.dryRun, Files: files, Policy: pol.of, Stop: gate.Stop}
	prog := new(pipeline.Progress)
	bar := e.ui.noProgress()
	opt.Planned = func(_ int, bytes int64) { bar = e.ui.startProgress("push", "objects", bytes, prog) }
	opt.Progress = func(bytes int64, objects int) {
		prog.Bytes.Store(bytes)
		prog.Entries.Store(int64(objects))
	}
	res, err := offsite.Push(ctx, s, b, opt)
	bar.stop()
	if err != nil {
		return err
	}
	sum := pushSummary{
		Bucket: b.String(), DryRun: o.dryRun,
		PlannedObjects: len(res.Planned), PlannedBytes: res.PlannedBytes(), Uploads: nonNil(res.Sending),
		SentObjects: res.SentObjects, SentBytes: res.SentBytes, Snapshots: nonNil(res.Snapshots),
		Capped: res.Capped, LeftObjects: res.LeftObjects, LeftBytes: res.LeftBytes, TooLarge: nonNil(res.TooLarge),
	}
	out := e.ui.stdout
	verb := "uploaded"
	if o.dryRun {
		verb = "would upload"
		for _, u := range res.Sending {
			fmt.Fprintf(out, "would upload %s (%s)\n", u.Name, humanBytes(u.Size))
		}
	}
	fmt.Fprintf(out, "%s %d objects, %s, to %s; %d new snapshots visible there\n",
		verb, res.SentObjects, humanBytes(res.SentBytes), b, len(res.Snapshots))
	for _, u := range res.TooLarge {
		e.ui.warnf("NOT SENT: %s is %s: an object of 5 GiB or more cannot go in a single PUT, so it is never attempted", u.Name, humanBytes(u.Size))
		if snap, _, ok := strings.Cut(path.Base(u.Name), compat.Ext); ok && strings.HasPrefix(u.Name, remote.ArchivesDir+"/") {
			e.ui.hintf("write that archive again in parts below 5 GiB (the default --part-size), then delete the whole file: pocketsnap export %s -o DIR/", snap)
		}
	}
	for _, name := range res.Unreadable {
		e.ui.warnf("snapshot %s not sent: its manifest does not load (run: pocketsnap check)", name)
	}
	if res.Stopped != "" {
		// Retention in the bucket waits too: it would take the packs of
		// the snapshot being sent for orphans.
		e.ui.warnf("stopped: %s: %d objects (%s) are left for the next push, which sends nothing twice; retention in the bucket waits for it", res.Stopped, res.LeftObjects, humanBytes(res.LeftBytes))
		sum.Deferred = res.Stopped
		e.ui.summary(sum)
		return e.pushDeferred(res.Stopped)
	}
	if res.Capped {
		e.ui.warnf("stopped at the upload cap of %s: %d objects (%s) are left for the next push", humanBytes(int64(o.maxUpload)), res.LeftObjects, humanBytes(res.LeftBytes))
	}
	popt := prune.BucketOptions{Policy: pol.of, BackupDir: e.cfg.Value("BACKUP_DIR"), DryRun: o.dryRun, Warn: e.ui.warnf}
	if o.dryRun {
		popt.After = res
	}
	pruned, err := prune.Bucket(ctx, s, b, popt)
	if err != nil {
		return fmt.Errorf("retention in the bucket: %w", err)
	}
	sum.DeletedSnapshots, sum.DeletedPacks, sum.Deletions = nonNil(pruned.Snapshots), len(pruned.Packs), append(slices.Clip(nonNil(pruned.Packs)), pruned.Archives...)
	sum.DeletedBytes, sum.Kept, sum.Unknown = pruned.PackBytes()+pruned.ArchiveBytes(), pruned.Kept, pruned.Unknown
	renderBucketPrune(out, pruned, o.dryRun)
	e.ui.summary(sum)
	if o.dryRun {
		return nil
	}
	return offsite.SaveRecord(s, offsite.PushRecord{
		Bucket: b.String(), Time: time.Now().UTC(), Newest: offsite.Newest(pruned.Remaining),
		SentBytes: res.SentBytes, SentObjects: res.SentObjects,
	})
}

// renderBucketPrune prints what retention in the bucket did, or would do.
func renderBucketPrune(out io.Writer, r *prune.BucketResult, dryRun bool) {
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	if r.Skipped != "" {
		fmt.Fprintf(out, "retention in the bucket: nothing deleted: %s\n", r.Skipped)
		return
	}
	for _, name := range r.Snapshots {
		fmt.Fprintf(out, "%s snapshot %s\n", verb, name)
	}
	for _, a := range r.Archives {
		fmt.Fprintf(out, "%s %s (%s)\n", verb, a.Name, humanBytes(a.Size))
	}
	if dryRun {
		for _, p := range r.Packs {
			fmt.Fprintf(out, "would delete %s (%s)\n", p.Name, humanBytes(p.Size))
		}
	}
	fmt.Fprintf(out, "retention in the bucket: %s %d snapshots and %d packs (%s), %d archive files (%s); %d snapshots kept\n",
		verb, len(r.Snapshots), len(r.Packs), humanBytes(r.PackBytes()), len(r.Archives), humanBytes(r.ArchiveBytes()), r.Kept)
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
