package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
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
	pol, err := e.keepPolicies(o.keep, c)
	if err != nil {
		return err
	}
	r := &rotation{e: e, opt: prune.Options{
		Policy: pol.of, BackupDir: e.cfg.Value("BACKUP_DIR"), DryRun: o.dryRun, Forget: o.forget,
		Repack: o.repack, Threshold: float64(o.threshold),
	}}
	var rep *prune.Report
	s, err := e.openStore(false)
	switch {
	case errors.Is(err, chunkstore.ErrNotExist) && !o.repack && len(o.forget) == 0:
		e.ui.infof("%v: rotating classic archives only", err)
		rep = prune.NewReport(o.dryRun)
		err = prune.Archives(r.opt, rep)
	case err == nil:
		defer s.Close()
		rep, err = r.locked(ctx, s)
	}
	if err != nil {
		return err
	}
	r.print(rep)
	e.ui.summary(rep)
	return nil
}

// rotation is a rotation's options, with the environment that reports
// it.
type rotation struct {
	e   *env
	opt prune.Options
}

// locked runs the rotation under the exclusive lock, with the identity
// loaded for a repack.
func (r *rotation) locked(ctx context.Context, s *chunkstore.Store) (*prune.Report, error) {
	if r.opt.Repack {
		if err := r.e.loadIdentity(s); err != nil {
			return nil, err
		}
	}
	lock, err := r.e.lock(ctx, s, true)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	return prune.Local(ctx, s, r.opt)
}

// print writes the report for people: a line per deleted snapshot and
// archive (and, in a dry run, pack), then the totals.
func (r *rotation) print(rep *prune.Report) {
	out := r.e.ui.stdout
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
		if r.opt.Repack {
			how = "it would be repacked"
		}
		fmt.Fprintf(out, "a repack would free about %s from %d packs more than %s unreferenced (%s)\n",
			humanBytes(rp.Bytes), rp.Packs, percent(r.opt.Threshold), how)
	}
	r.warn(rep)
}

// warn says what the rotation could not do, and how to recover.
func (r *rotation) warn(rep *prune.Report) {
	if rep.Unindexed > 0 {
		r.e.ui.warnf("%d blobs of kept snapshots are not in the index: orphaned packs were kept, since they may hold them (run 'pocketsnap check')", rep.Unindexed)
	}
	for _, u := range rep.Unreadable {
		r.e.ui.warnf("snapshot %s is kept and no pack was deleted: its manifest does not load (%s), so the packs it needs cannot be told", u.Name, u.Error)
	}
	if len(rep.Unreadable) > 0 {
		r.e.ui.hintf("if the snapshot cannot be repaired, forget it explicitly: pocketsnap rotate --forget %s", rep.Unreadable[0].Name)
	}
}

// autoRotation is the rotation that ends a backup, from the configured
// counts; nil when off. It fails before the backup on a bad setting.
func (e *env) autoRotation(off bool) (*rotation, error) {
	if off {
		return nil, nil
	}
	pol, err := e.keepPolicies(nil, retention.Policy{})
	if err != nil {
		return nil, err
	}
	return &rotation{e: e, opt: prune.Options{Policy: pol.of, BackupDir: e.cfg.Value("BACKUP_DIR"), Threshold: 0.5}}, nil
}

// afterBackup runs the rotation under the backup's lock and says in one
// line what it deleted.
func (r *rotation) afterBackup(ctx context.Context, s *chunkstore.Store) error {
	if r == nil {
		return nil
	}
	rep, err := prune.Local(ctx, s, r.opt)
	if err != nil {
		return fmt.Errorf("rotation failed: %w", err)
	}
	if n := len(rep.Snapshots) + len(rep.Packs) + len(rep.Archives); n > 0 {
		names := make([]string, len(rep.Snapshots))
		for i, sn := range rep.Snapshots {
			names[i] = sn.Name
		}
		r.e.ui.infof("rotate: deleted %d snapshots (%s), %d packs and %d archives, freed %s",
			len(rep.Snapshots), strings.Join(names, ", "), len(rep.Packs), len(rep.Archives), humanBytes(rep.Freed))
	}
	r.warn(rep)
	return nil
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
