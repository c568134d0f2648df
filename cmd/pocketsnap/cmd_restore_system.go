package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/hooks"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/restore"
)

// hookTimeout bounds each stop or start command.
const hookTimeout = 10 * time.Minute

// restoreSystem prints the plan of a whole-system restore and, with the
// confirm phrase, carries it out.
func restoreSystem(ctx context.Context, e *env, o restoreOptions) error {
	s, release, err := e.openLocked(ctx, false)
	if err != nil {
		return err
	}
	defer release()
	idErr := e.loadIdentity(s)
	if o.confirm != "" && idErr != nil {
		return idErr
	}
	if err := e.checkFingerprint(s, o.expect); err != nil {
		return err
	}
	sys, skipped, err := e.systemPlan(s, o)
	if err != nil {
		return err
	}
	for _, c := range skipped {
		fmt.Fprintf(e.ui.stdout, "skipped %s: %s\n", c.Manifest.Name, c.Skipped)
	}
	return runPlan(ctx, e, sys, idErr, o.confirm != "")
}

// runPlan prints the plan and, when acting, carries it out.
func runPlan(ctx context.Context, e *env, sys *restore.System, idErr error, act bool) error {
	if err := printPlan(e.ui.stdout, sys, idErr, act); err != nil || !act {
		if err == nil {
			e.ui.summary(newPlanSummary(sys, false))
		}
		return err
	}
	sum := newPlanSummary(sys, true) // before the live directories move
	sys.Log = e.ui.stderr
	prog := new(pipeline.Progress)
	var total int64
	for i := range sys.Steps {
		sys.Steps[i].Source.Progress = prog
		total += sys.Steps[i].Size
	}
	pr := e.ui.startProgress("restore", "", total, prog)
	err := sys.Run(ctx)
	pr.stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.ui.stdout, "restore complete; to undo it: pocketsnap restore --rollback --confirm=%s\n", confirmPhrase)
	e.ui.summary(sum)
	return nil
}

// systemPlan chooses the snapshots and targets: the rootfs first, then the
// db inside it. It also returns the snapshots passed over, with why.
func (e *env) systemPlan(s *chunkstore.Store, o restoreOptions) (*restore.System, []manifest.Candidate, error) {
	now := time.Now().UTC()
	at := now.Add(100 * 365 * 24 * time.Hour)
	if o.at != "" {
		t, err := manifest.ParseTime(o.at, now)
		if err != nil {
			return nil, nil, usageErrorf("--at: %v", err)
		}
		at = t
	}
	list, err := manifest.List(s)
	if err != nil {
		return nil, nil, err
	}
	stop, start, err := e.stackCommands(o)
	if err != nil {
		return nil, nil, err
	}
	var skipped []manifest.Candidate
	sys := &restore.System{Stop: stop, Start: start, Options: extractOptions(), Now: now, HookTimeout: hookTimeout}
	for _, k := range []struct{ kind, name, target string }{
		{"rootfs", o.rootfs, e.cfg.Value("ROOTFS_DIR")},
		{"db", o.db, e.cfg.Value("DB_DIR")},
	} {
		if o.only != "" && o.only != k.kind {
			continue
		}
		m, sk, err := pick(s, list, k.kind, k.name, at)
		skipped = append(skipped, sk...)
		if err != nil {
			return nil, skipped, err
		}
		sys.Steps = append(sys.Steps, restore.Step{
			Kind: k.kind, Target: k.target, Size: m.StreamSize, Taken: m.Time,
			Source: restore.Source{Store: s, Manifest: m},
		})
	}
	sys.Now = freeStamp(sys, now)
	return sys, skipped, nil
}

// freeStamp is the stamp of a restore starting now whose directory names
// are free.
func freeStamp(sys *restore.System, now time.Time) time.Time {
	var targets []string
	for _, st := range sys.Steps {
		targets = append(targets, st.Target)
	}
	return restore.FreeStamp(targets, now)
}

// pick returns the named snapshot, or the newest complete one of kind at
// or before at.
func pick(s *chunkstore.Store, list []*manifest.Manifest, kind, ref string, at time.Time) (*manifest.Manifest, []manifest.Candidate, error) {
	if ref == "" {
		return manifest.Select(list, kind, at)
	}
	name, err := manifest.Resolve(s, ref)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range list {
		if m.Name == name {
			if m.Kind != kind {
				return nil, nil, usageErrorf("--%s %s is a %s snapshot", kind, name, m.Kind)
			}
			return m, nil, nil
		}
	}
	return nil, nil, fmt.Errorf("snapshot %s not found", name)
}

func (e *env) stackCommands(o restoreOptions) (stop, start hooks.Command, err error) {
	if stop, err = e.hook("STACK_STOP_CMD", o.stopCmd); err != nil {
		return stop, start, err
	}
	start, err = e.hook("STACK_START_CMD", o.startCmd)
	return stop, start, err
}

// hook parses the service command given by a flag's value or, when that
// is empty, by the configuration key.
func (e *env) hook(key, flag string) (hooks.Command, error) {
	if flag == "" {
		flag = e.cfg.Value(key)
	}
	c, err := hooks.Parse(key, flag)
	c.Via = e.helper
	return c, err
}

// printPlan describes what the restore will do. It fails when the free
// space is not enough to act.
func printPlan(w io.Writer, sys *restore.System, idErr error, acting bool) error {
	if acting {
		fmt.Fprintln(w, "Restore plan:")
	} else {
		fmt.Fprintf(w, "Restore plan (dry run: nothing is changed; add --confirm=%s to act):\n", confirmPhrase)
	}
	var need int64
	stamp := sys.Now.Format(manifest.StampLayout)
	for _, st := range sys.Steps {
		need += st.Size
		fmt.Fprintf(w, "  %-6s %s  taken %s UTC, %s\n", st.Kind, st.Source.Name(), st.Taken.Format("2006-01-02 15:04:05"), humanBytes(st.Size))
		if _, err := os.Lstat(st.Target); err == nil {
			fmt.Fprintf(w, "         replaces %s (moved aside to %s)\n", st.Target, restore.BrokenPath(st.Target, stamp))
		} else {
			fmt.Fprintf(w, "         creates %s (nothing there now)\n", st.Target)
		}
	}
	free, err := restore.FreeSpace(sys.Steps[0].Target)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  space: needs about %s, %s available\n", humanBytes(need), humanBytes(free))
	fmt.Fprintf(w, "  services: stop with %s, then start with %s (even if the restore fails)\n", hookString(sys.Stop), hookString(sys.Start))
	if idErr != nil {
		fmt.Fprintf(w, "  identity: %v\n", idErr)
	}
	if need > free {
		return fmt.Errorf("not enough free space: the restore needs about %s, %s is available", humanBytes(need), humanBytes(free))
	}
	return nil
}

func hookString(c hooks.Command) string {
	if !c.Set() {
		return "nothing (" + c.Key + " not set)"
	}
	return c.Key + " (" + c.String() + ")"
}

// rollback swaps the newest moved-aside directory back: the rootfs if it
// was the last one restored (it holds the db as it was), else the db.
func rollback(e *env, o restoreOptions) error {
	if o.confirm == "" {
		return usageErrorf("--rollback changes the live system: add --confirm=%s", confirmPhrase)
	}
	target := e.cfg.Value("ROOTFS_DIR")
	if o.only == "db" || (o.only == "" && newerBroken(e.cfg.Value("DB_DIR"), target)) {
		target = e.cfg.Value("DB_DIR")
	}
	back, err := restore.Rollback(target, restore.FreeStamp([]string{target}, time.Now()))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.ui.stdout, "rolled back: %s is %s again (the restored tree is kept as %s%s<UTC>)\n", target, back, target, restore.UndoneSuffix)
	e.ui.summary(struct {
		Target   string `json:"target"`
		Restored string `json:"restored_from"`
	}{target, back})
	return nil
}

// newerBroken reports whether a's newest moved-aside directory is newer
// than b's.
func newerBroken(a, b string) bool {
	na, errA := restore.Newest(a)
	nb, errB := restore.Newest(b)
	if err := errors.Join(errA, errB); err != nil || na == "" {
		return false
	}
	return nb == "" || na[len(a):] > nb[len(b):]
}
