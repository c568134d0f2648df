package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/job"
	"github.com/pocketsnap/pocketsnap/prune"
	"github.com/pocketsnap/pocketsnap/retention"
)

type rotateOptions struct {
	keep      []string
	forget    []string
	calendar  retention.Policy
	dryRun    bool
	repack    bool
	threshold percent
}

const rotateHelp = `

Keeps, per kind, the newest N complete snapshots: BACKUP_KEEP_DB (default 3),
BACKUP_KEEP_ROOTFS (default 4), and BACKUP_KEEP_<KIND> or --keep KIND=N for
any other kind. A kind with no setting keeps every snapshot. --keep-daily,
--keep-weekly and --keep-monthly add restic's calendar rules (the newest
snapshot of each UTC day, ISO week, month) for every kind; a snapshot kept by
any rule is kept. An incomplete snapshot never counts towards N; it is
deleted once N newer complete snapshots are kept.

Then deletes the packs that no kept snapshot uses, reports the unreferenced
bytes left in packs still in use, and deletes the classic archives in
${BACKUP_DIR}/<kind>/ beyond the same counts, each with its .sha256, .age
and .part-NNN companions. It runs at the end of every backup (unless
--no-rotate) and needs only the recipient; --repack needs the identity.

A snapshot whose manifest does not load is kept, and while there is one no
pack is deleted, since it may need any of them: a warning names it. If it
cannot be repaired, --forget SNAPSHOT deletes it explicitly.`

func rotateCommand() *command {
	o := rotateOptions{threshold: 0.5}
	return &command{
		name: "rotate", group: "Back up",
		summary: "apply retention: delete old snapshots, unused packs and old archives",
		usage:   "rotate [--dry-run] [--keep KIND=N]... [--keep-daily N] [--forget SNAPSHOT]... [--repack] [--json]" + rotateHelp,
		keys:    []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_KEEP_DB", "BACKUP_KEEP_ROOTFS", "BACKUP_KEEP_<KIND>", "BACKUP_AGE_IDENTITY", "PACK_PADDING"},
		examples: []string{
			"pocketsnap rotate --dry-run                 # what would go, and the bytes it would free",
			"pocketsnap rotate --keep notes=10           # also prune kind notes to its newest 10",
			"pocketsnap rotate --keep-daily 7 --keep-monthly 12",
			"BACKUP_AGE_IDENTITY=~/key.txt pocketsnap rotate --repack   # rewrite packs more than 50% unreferenced",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.StringArrayVar(&o.keep, "keep", nil, "`KIND=N`: keep the newest N complete snapshots of KIND (repeatable; overrides BACKUP_KEEP_<KIND>)")
			fs.IntVar(&o.calendar.Daily, "keep-daily", 0, "also keep the newest snapshot of each of the last `N` days that have one, for every kind")
			fs.IntVar(&o.calendar.Weekly, "keep-weekly", 0, "also keep the newest snapshot of each of the last `N` ISO weeks that have one")
			fs.IntVar(&o.calendar.Monthly, "keep-monthly", 0, "also keep the newest snapshot of each of the last `N` months that have one")
			fs.StringArrayVar(&o.forget, "forget", nil, "`SNAPSHOT`: delete this snapshot whatever the policy says, by its full name, even if its manifest is damaged (repeatable)")
			fs.BoolVarP(&o.dryRun, "dry-run", "n", false, "only list what would be deleted and the bytes it would free")
			fs.BoolVar(&o.repack, "repack", false, "rewrite packs whose unreferenced share exceeds --repack-threshold (needs BACKUP_AGE_IDENTITY)")
			fs.Var(&o.threshold, "repack-threshold", "unreferenced `PERCENT` of a pack above which --repack rewrites it")
			return func(ctx context.Context, e *env, args []string) error { return runRotate(ctx, e, o, args) }
		},
	}
}

func runRotate(ctx context.Context, e *env, o rotateOptions, args []string) error {
	if len(args) > 0 {
		return usageErrorf("rotate takes no arguments")
	}
	c := o.calendar
	if c.Daily < 0 || c.Weekly < 0 || c.Monthly < 0 {
		return usageErrorf("--keep-daily, --keep-weekly and --keep-monthly take a count of 0 or more")
	}
	opt, err := e.rotation(o.keep, c)
	if err != nil {
		return err
	}
	opt.DryRun, opt.Forget, opt.Repack, opt.Threshold = o.dryRun, o.forget, o.repack, float64(o.threshold)
	rep, err := e.rotate(ctx, opt)
	if err != nil {
		return err
	}
	printRotation(e.ui.stdout, rep, opt)
	e.ui.summary(rep)
	return nil
}

// rotation is the rotation the configuration asks for: the retention
// counts (overridden by --keep flags) and calendar rules, and BACKUP_DIR.
// It fails on a bad setting.
func (e *env) rotation(keep []string, calendar retention.Policy) (prune.Options, error) {
	pol, err := e.retention(keep, calendar)
	if err != nil {
		return prune.Options{}, err
	}
	return prune.Options{Policy: pol.Of, BackupDir: e.cfg.Value("BACKUP_DIR"), Threshold: 0.5}, nil
}

// rotate runs the rotation (see job.Rotate) on the configured
// repository, with the identity loaded for a repack. The command line and
// the daemon both run it.
func (e *env) rotate(ctx context.Context, opt prune.Options) (*prune.Report, error) {
	open := func() (*chunkstore.Store, error) {
		s, err := e.openStore(false)
		if err == nil && opt.Repack {
			if err = e.loadIdentity(s); err != nil {
				s.Close()
				return nil, err
			}
		}
		return s, err
	}
	return job.Rotate(ctx, job.RotateOptions{Options: opt, LockWait: e.g.lockWait, Open: open}, e.reporter())
}

// printRotation writes the report for people: a line per deleted
// snapshot and archive (and, in a dry run, pack), then the totals.
func printRotation(out io.Writer, rep *prune.Report, opt prune.Options) {
	verb, did := "deleted", "freed"
	if rep.DryRun {
		verb, did = "would delete", "would free"
	}
	for _, s := range rep.Snapshots {
		fmt.Fprintf(out, "%s snapshot %s (%s keeps %s)\n", verb, s.Name, s.Kind, s.Policy)
	}
	if rep.DryRun {
		for _, p := range rep.Packs {
			what := "unused"
			if p.Orphan {
				what = "orphaned"
			}
			fmt.Fprintf(out, "%s pack %s (%s, %s)\n", verb, p.ID, what, humanBytes(p.Bytes))
		}
	}
	for _, a := range rep.Archives {
		fmt.Fprintf(out, "%s archive %s in %s: %s (%s)\n", verb, a.Name, a.Dir, strings.Join(a.Files, ", "), humanBytes(a.Bytes))
	}
	orphans := 0
	for _, p := range rep.Packs {
		if p.Orphan {
			orphans++
		}
	}
	fmt.Fprintf(out, "%s %d of %d snapshots, %d packs (%d orphaned) and %d archives; %s %s\n",
		verb, len(rep.Snapshots), len(rep.Snapshots)+rep.Kept, len(rep.Packs), orphans, len(rep.Archives), did, humanBytes(rep.Freed))
	if rp := rep.Repacked; rp != nil {
		fmt.Fprintf(out, "repacked %d packs into %d, freeing %s\n", rp.Packs, rp.NewPacks, humanBytes(rp.Bytes))
	}
	if rep.DeadPacks > 0 {
		fmt.Fprintf(out, "%s unreferenced in %d packs still in use\n", humanBytes(rep.DeadBytes), rep.DeadPacks)
	}
	if rp := rep.Repackable; rp.Packs > 0 && (rep.Repacked == nil || rep.DryRun) {
		how := "run 'pocketsnap rotate --repack' with BACKUP_AGE_IDENTITY"
		if opt.Repack {
			how = "it would be repacked"
		}
		fmt.Fprintf(out, "a repack would free about %s from %d packs more than %s unreferenced (%s)\n",
			humanBytes(rp.Bytes), rp.Packs, percent(opt.Threshold), how)
	}
}

// percent is a share from 0 to 1, given and shown as a percentage.
type percent float64

func (p percent) String() string { return strconv.FormatFloat(float64(p)*100, 'f', -1, 64) + "%" }

func (p *percent) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v < 0 || v > 100 {
		return fmt.Errorf("%q is not a percentage from 0 to 100 (e.g. 50%%)", s)
	}
	*p = percent(v / 100)
	return nil
}

func (p *percent) Type() string { return "percent" }
