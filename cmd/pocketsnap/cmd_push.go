package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/job"
	"github.com/pocketsnap/pocketsnap/prune"
	"github.com/pocketsnap/pocketsnap/remote"
	"github.com/pocketsnap/pocketsnap/retention"
)

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
	res, err := e.push(ctx, o)
	if job.ClassOf(err) == job.Deferred {
		renderPush(e.ui.stdout, res, o.dryRun)
		e.ui.summary(res)
		e.ui.hintf("the push waits: %s; it continues when the conditions hold again ('pocketsnap push' without --when-allowed pushes anyway)", res.Deferred)
		return nil
	}
	if res == nil {
		return err
	}
	renderPush(e.ui.stdout, res, o.dryRun)
	if res.Pruned != nil {
		e.ui.summary(res)
	}
	return err
}

// push runs the offsite push as the configuration and o say, reporting
// through e's reporter. The command line and the daemon both run it.
func (e *env) push(ctx context.Context, o pushOptions) (*job.PushResult, error) {
	if on, why, err := e.cfg.Enabled("ENABLE_OFFSITE_BACKUP"); err != nil {
		return nil, err
	} else if !on {
		return nil, &hintError{
			err:  fmt.Errorf("offsite backup is off (%s)", why),
			hint: "set ENABLE_OFFSITE_BACKUP=true in .env, and create ${DATA_DIR}/secrets/offsite.env (mode 0600)",
		}
	}
	if o.maxUpload == 0 {
		n, err := e.cfg.MaxUpload()
		if err != nil {
			return nil, err
		}
		o.maxUpload = byteSize(n)
	}
	pol, err := e.retention(nil, retention.Policy{})
	if err != nil {
		return nil, err
	}
	cs, err := e.conditionSettings()
	if err != nil {
		return nil, err
	}
	return job.Push(ctx, job.PushOptions{
		Open: func() (*chunkstore.Store, error) { return e.openStore(false) },
		Dial: func() (*remote.Bucket, error) { return e.bucket(remote.Options{UploadLimit: int64(o.limit)}) },
		Jobs: o.jobs, MaxUpload: int64(o.maxUpload), DryRun: o.dryRun, Policy: pol.Of, BackupDir: e.cfg.Value("BACKUP_DIR"),
		Conditions: cs.checker, Obey: o.whenAllowed, WatchEvery: pushWatchEvery,
	}, e.reporter())
}

// pushWatchEvery is how often a push whose conditions are obeyed asks
// them again while it runs.
var pushWatchEvery = 5 * time.Second

// renderPush prints what a push sent, or would send, and what retention
// in the bucket deleted.
func renderPush(out io.Writer, res *job.PushResult, dryRun bool) {
	if res.Bucket == "" {
		return // deferred before it started
	}
	verb := "uploaded"
	if dryRun {
		verb = "would upload"
		for _, u := range res.Uploads {
			fmt.Fprintf(out, "would upload %s (%s)\n", u.Name, humanBytes(u.Size))
		}
	}
	fmt.Fprintf(out, "%s %d objects, %s, to %s; %d new snapshots visible there\n",
		verb, res.SentObjects, humanBytes(res.SentBytes), res.Bucket, len(res.Snapshots))
	if res.Pruned != nil {
		renderBucketPrune(out, res.Pruned, dryRun)
	}
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
