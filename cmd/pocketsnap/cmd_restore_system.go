package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

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
	w := restore.Want{Rootfs: o.rootfs, DB: o.db, Only: o.only}
	now := time.Now().UTC()
	if o.at != "" {
		if w.At, err = manifest.ParseTime(o.at, now); err != nil {
			return usageErrorf("--at: %v", err)
		}
	}
	sys, skipped, err := restore.Plan(s, e.live(), w, now)
	for _, c := range skipped {
		fmt.Fprintf(e.ui.stdout, "skipped %s: %s\n", c.Name, c.Skipped)
	}
	if wk := (*restore.WrongKindError)(nil); errors.As(err, &wk) {
		return usageErrorf("--%s %s is a %s snapshot", wk.Want, wk.Name, wk.Kind)
	}
	if err != nil {
		return err
	}
	sys.Options = extractOptions()
	return runPlan(ctx, e, sys, idErr, o)
}

// live returns the configured live directories.
func (e *env) live() restore.Live {
	return restore.Live{Rootfs: e.cfg.Value("ROOTFS_DIR"), DB: e.cfg.Value("DB_DIR")}
}

// stackStoppedFlag is the flag by which the user says the homeserver is
// already stopped, for a restore without a stop command.
const stackStoppedFlag = "stack-stopped"

// actError gives the hint to a restore's refusal to act with no stop
// command.
func actError(err error) error {
	if errors.Is(err, restore.ErrNoStop) {
		return &hintError{err: err, hint: fmt.Sprintf("set STACK_STOP_CMD (or pass --stop-cmd CMD), or stop the homeserver yourself and add --%s", stackStoppedFlag)}
	}
	return err
}

// runPlan sets the service commands of sys, prints its plan and, when o
// has the confirm phrase, carries it out.
func runPlan(ctx context.Context, e *env, sys *restore.System, idErr error, o restoreOptions) error {
	var err error
	if sys.Stop, sys.Start, err = e.stackCommands(o); err != nil {
		return err
	}
	sys.HookTimeout, sys.Log, sys.AlreadyStopped = hookTimeout, e.ui.stderr, o.stopped
	act := o.confirm != ""
	pv, err := sys.Preview() // before the live directories move
	printPlan(e.ui.stdout, pv, act)
	if err == nil {
		printServices(e.ui.stdout, sys, pv, idErr)
		err = pv.Fits()
	}
	if err != nil || !act {
		if err == nil {
			e.ui.summary(newPlanSummary(pv, false))
		}
		return err
	}
	if err := sys.CanAct(); err != nil {
		return actError(err) // before any progress is shown
	}
	prog := new(pipeline.Progress)
	for i := range sys.Steps {
		sys.Steps[i].Source.Progress = prog
	}
	pr := e.ui.startProgress("restore", "", pv.Need, prog)
	err = sys.Run(ctx)
	pr.stop()
	if err != nil {
		return actError(err)
	}
	fmt.Fprintf(e.ui.stdout, "restore complete; to undo it: pocketsnap restore --rollback --confirm=%s\n", confirmPhrase)
	e.ui.summary(newPlanSummary(pv, true))
	return nil
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

// printPlan describes what the restore will do.
func printPlan(w io.Writer, pv restore.Preview, acting bool) {
	if acting {
		fmt.Fprintln(w, "Restore plan:")
	} else {
		fmt.Fprintf(w, "Restore plan (dry run: nothing is changed; add --confirm=%s to act):\n", confirmPhrase)
	}
	for _, st := range pv.Steps {
		fmt.Fprintf(w, "  %-6s %s  taken %s UTC, %s\n", st.Kind, st.Source, st.Taken.Format("2006-01-02 15:04:05"), humanBytes(st.Size))
		if st.MovedAside != "" {
			fmt.Fprintf(w, "         replaces %s (moved aside to %s)\n", st.Target, st.MovedAside)
		} else {
			fmt.Fprintf(w, "         creates %s (nothing there now)\n", st.Target)
		}
	}
}

// printServices ends the plan: the space it needs, how it treats the
// services and the identity, and the directories earlier restores moved
// aside.
func printServices(w io.Writer, sys *restore.System, pv restore.Preview, idErr error) {
	fmt.Fprintf(w, "  space: needs about %s, %s available\n", humanBytes(pv.Need), humanBytes(pv.Free))
	fmt.Fprintf(w, "  services: %s\n", servicesPlan(sys))
	if idErr != nil {
		fmt.Fprintf(w, "  identity: %v\n", idErr)
	}
	printAsides(w, pv.Earlier)
}

// servicesPlan says how the restore treats the services.
func servicesPlan(sys *restore.System) string {
	switch {
	case sys.Stop.Set():
		return fmt.Sprintf("stop with %s, then start with %s (even if the restore fails)", hookString(sys.Stop), hookString(sys.Start))
	case sys.AlreadyStopped:
		return fmt.Sprintf("not stopped: --%s says the homeserver is already stopped; then start with %s", stackStoppedFlag, hookString(sys.Start))
	}
	return fmt.Sprintf("STACK_STOP_CMD is not set: the restore refuses to act unless STACK_STOP_CMD is set or --%s says the homeserver is already stopped", stackStoppedFlag)
}

// printAsides names directories that restores and rollbacks moved aside,
// with their size and how to remove them.
func printAsides(w io.Writer, asides []restore.AsideDir) {
	for _, a := range asides {
		fmt.Fprintf(w, "  moved aside earlier: %s (%s); remove it with: rm -rf %s\n", a.Path, humanBytes(a.Size), shellQuote(a.Path))
	}
}

func hookString(c hooks.Command) string {
	if !c.Set() {
		return "nothing (" + c.Key + " not set)"
	}
	return c.Key + " (" + c.String() + ")"
}

// rollback swaps the newest moved-aside directory back (see
// restore.System.Rollback), stopping and starting the services as a
// restore does.
func rollback(ctx context.Context, e *env, o restoreOptions) error {
	if o.confirm == "" {
		return usageErrorf("--rollback changes the live system: add --confirm=%s", confirmPhrase)
	}
	stop, start, err := e.stackCommands(o)
	if err != nil {
		return err
	}
	sys := &restore.System{Stop: stop, Start: start, HookTimeout: hookTimeout, Log: e.ui.stderr, AlreadyStopped: o.stopped}
	res, err := sys.Rollback(ctx, e.live(), o.only)
	if err != nil {
		return actError(err)
	}
	fmt.Fprintf(e.ui.stdout, "rolled back: %s is %s again (the restored tree is kept as %s)\n", res.Target, res.Back, res.Undone)
	e.ui.summary(struct {
		Target   string `json:"target"`
		Restored string `json:"restored_from"`
		Undone   string `json:"undone"`
	}{res.Target, res.Back, res.Undone})
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:+=@%,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
