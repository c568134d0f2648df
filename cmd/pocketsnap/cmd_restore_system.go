package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
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
		fmt.Fprintf(e.ui.stdout, "skipped %s: %s\n", c.Name, c.Skipped)
	}
	return runPlan(ctx, e, sys, idErr, o)
}

// stackStoppedFlag is the flag by which the user says the homeserver is
// already stopped, for a restore without a stop command.
const stackStoppedFlag = "stack-stopped"

// checkStopped refuses to change live directories with no stop command,
// unless the user said the services are already stopped.
func checkStopped(stop hooks.Command, o restoreOptions) error {
	if stop.Set() || o.stopped {
		return nil
	}
	return &hintError{
		err:  errors.New("not acting: STACK_STOP_CMD is not set, so nothing would stop the homeserver before its live directories are swapped"),
		hint: fmt.Sprintf("set STACK_STOP_CMD (or pass --stop-cmd CMD), or stop the homeserver yourself and add --%s", stackStoppedFlag),
	}
}

// runPlan prints the plan and, when o has the confirm phrase, carries it
// out.
func runPlan(ctx context.Context, e *env, sys *restore.System, idErr error, o restoreOptions) error {
	act := o.confirm != ""
	if err := printPlan(e.ui.stdout, sys, idErr, act, o.stopped); err != nil || !act {
		if err == nil {
			e.ui.summary(newPlanSummary(sys, false))
		}
		return err
	}
	if err := checkStopped(sys.Stop, o); err != nil {
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
	list, damaged, err := manifest.ListValid(s)
	if err != nil {
		return nil, nil, err
	}
	stop, start, err := e.stackCommands(o)
	if err != nil {
		return nil, nil, err
	}
	var skipped []manifest.Candidate
	sys := &restore.System{Stop: stop, Start: start, Options: extractOptions(), Now: now, HookTimeout: hookTimeout}
	rootfs := e.cfg.Value("ROOTFS_DIR")
	for _, k := range []struct{ kind, name, target string }{
		{"rootfs", o.rootfs, rootfs},
		{"db", o.db, e.cfg.Value("DB_DIR")},
	} {
		if o.only != "" && o.only != k.kind {
			continue
		}
		m, sk, err := pick(s, list, damaged, k.kind, k.name, at)
		skipped = append(skipped, sk...)
		if err != nil {
			return nil, skipped, err
		}
		sys.Steps = append(sys.Steps, restore.Step{
			Kind: k.kind, Target: k.target, Aside: restore.AsideBase(k.target, k.kind, rootfs), Size: m.StreamSize, Taken: m.Time,
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
		targets = append(targets, st.Target, st.Aside)
	}
	return restore.FreeStamp(targets, now)
}

// pick returns the named snapshot, or the newest complete one of kind at
// or before at, passing over damaged manifests.
func pick(s *chunkstore.Store, list []*manifest.Manifest, damaged []*manifest.DamagedError, kind, ref string, at time.Time) (*manifest.Manifest, []manifest.Candidate, error) {
	if ref == "" {
		return manifest.SelectValid(list, damaged, kind, at)
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
	for _, d := range damaged {
		if d.Name == name {
			return nil, nil, d
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

// printPlan describes what the restore will do, and names the
// directories earlier restores moved aside. It fails when the free space
// is not enough to act.
func printPlan(w io.Writer, sys *restore.System, idErr error, acting, stopped bool) error {
	if acting {
		fmt.Fprintln(w, "Restore plan:")
	} else {
		fmt.Fprintf(w, "Restore plan (dry run: nothing is changed; add --confirm=%s to act):\n", confirmPhrase)
	}
	var need int64
	stamp := sys.Now.Format(manifest.StampLayout)
	var bases []string
	for _, st := range sys.Steps {
		need += st.Size
		fmt.Fprintf(w, "  %-6s %s  taken %s UTC, %s\n", st.Kind, st.Source.Name(), st.Taken.Format("2006-01-02 15:04:05"), humanBytes(st.Size))
		if _, err := os.Lstat(st.Target); err == nil {
			fmt.Fprintf(w, "         replaces %s (moved aside to %s)\n", st.Target, restore.BrokenPath(st.Aside, stamp))
		} else {
			fmt.Fprintf(w, "         creates %s (nothing there now)\n", st.Target)
		}
		bases = append(bases, st.Aside, st.Target)
	}
	free, err := restore.FreeSpace(sys.Steps[0].Target)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  space: needs about %s, %s available\n", humanBytes(need), humanBytes(free))
	fmt.Fprintf(w, "  services: %s\n", servicesPlan(sys, stopped))
	if idErr != nil {
		fmt.Fprintf(w, "  identity: %v\n", idErr)
	}
	if err := printAsides(w, bases...); err != nil {
		return err
	}
	if need > free {
		return fmt.Errorf("not enough free space: the restore needs about %s, %s is available", humanBytes(need), humanBytes(free))
	}
	return nil
}

// servicesPlan says how the restore treats the services.
func servicesPlan(sys *restore.System, stopped bool) string {
	switch {
	case sys.Stop.Set():
		return fmt.Sprintf("stop with %s, then start with %s (even if the restore fails)", hookString(sys.Stop), hookString(sys.Start))
	case stopped:
		return fmt.Sprintf("not stopped: --%s says the homeserver is already stopped; then start with %s", stackStoppedFlag, hookString(sys.Start))
	}
	return fmt.Sprintf("STACK_STOP_CMD is not set: the restore refuses to act unless STACK_STOP_CMD is set or --%s says the homeserver is already stopped", stackStoppedFlag)
}

// printAsides names the directories that restores and rollbacks moved
// aside from the given bases, with their size and how to remove them.
func printAsides(w io.Writer, bases ...string) error {
	asides, err := restore.Asides(slices.Compact(bases)...)
	if err != nil {
		return err
	}
	for _, a := range asides {
		fmt.Fprintf(w, "  moved aside earlier: %s (%s); remove it with: rm -rf %s\n", a.Path, humanBytes(a.Size), shellQuote(a.Path))
	}
	return nil
}

// asideBases returns the bases of the directories that restores of the
// configured rootfs and db move aside, with the db's older place (inside
// the rootfs).
func (e *env) asideBases() []string {
	rootfs, db := e.cfg.Value("ROOTFS_DIR"), e.cfg.Value("DB_DIR")
	return []string{rootfs, restore.AsideBase(db, "db", rootfs), db}
}

func hookString(c hooks.Command) string {
	if !c.Set() {
		return "nothing (" + c.Key + " not set)"
	}
	return c.Key + " (" + c.String() + ")"
}

// rollback swaps the newest moved-aside directory back: the rootfs if it
// was the last one restored (it holds the db as it was), else the db. It
// stops and starts the services as a restore does.
func rollback(ctx context.Context, e *env, o restoreOptions) error {
	if o.confirm == "" {
		return usageErrorf("--rollback changes the live system: add --confirm=%s", confirmPhrase)
	}
	rootfs, db := e.cfg.Value("ROOTFS_DIR"), e.cfg.Value("DB_DIR")
	dbAside := restore.AsideBase(db, "db", rootfs)
	target, aside := rootfs, rootfs
	if o.only == "db" || (o.only == "" && newerBroken(dbAside, rootfs)) {
		target, aside = db, dbAside
	}
	stop, start, err := e.stackCommands(o)
	if err != nil {
		return err
	}
	if err := checkStopped(stop, o); err != nil {
		return err
	}
	sys := &restore.System{Stop: stop, Start: start, HookTimeout: hookTimeout, Log: e.ui.stderr}
	now := restore.FreeStamp([]string{aside}, time.Now())
	var back, undone string
	err = sys.Stopped(ctx, func() error {
		back, undone, err = restore.Rollback(target, aside, now)
		return err
	}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.ui.stdout, "rolled back: %s is %s again (the restored tree is kept as %s)\n", target, back, undone)
	e.ui.summary(struct {
		Target   string `json:"target"`
		Restored string `json:"restored_from"`
		Undone   string `json:"undone"`
	}{target, back, undone})
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

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:+=@%,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
