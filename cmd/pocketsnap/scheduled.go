package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/conditions"
	"github.com/pocketsnap/pocketsnap/daemon"
	"github.com/pocketsnap/pocketsnap/hooks"
	"github.com/pocketsnap/pocketsnap/idle"
	"github.com/pocketsnap/pocketsnap/job"
	"github.com/pocketsnap/pocketsnap/prune"
	"github.com/pocketsnap/pocketsnap/retention"
	"github.com/pocketsnap/pocketsnap/schedule"
)

// scheduleKeys are the keys of the scheduled jobs, beyond those of backup
// and rotate.
var scheduleKeys = append([]string{"ENABLE_BACKUP_DAEMON", "BACKUP_DAEMON_HOUR", "BACKUP_DB_CADENCE", "BACKUP_DAEMON_HC_URL", "ENABLE_OFFSITE_BACKUP"}, conditionKeys...)

// jobKeys are the keys the scheduled jobs read: backup's and rotate's.
var jobKeys = []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_RECIPIENT", "DB_DIR", "ROOTFS_DIR", "PREFIX", "BACKUP_KEEP_DB", "BACKUP_KEEP_ROOTFS", "BACKUP_KEEP_<KIND>", "BACKUP_COMPAT", "DB_STOP_CMD", "DB_START_CMD", "DB_IMMUTABLE_GLOBS"}

// daemonEnabled reports whether ENABLE_BACKUP_DAEMON is on, and says why
// not otherwise (see config.Config.Enabled).
func (e *env) daemonEnabled() (bool, string, error) {
	return e.cfg.Enabled("ENABLE_BACKUP_DAEMON")
}

// engineConfig reads the schedule's keys into the engine's configuration:
// daemon.Jobs at BACKUP_DB_CADENCE, the push with ENABLE_OFFSITE_BACKUP,
// run in-process by a jobRunner logging to log.
// A bad value is an error naming the key and where it was set.
func (e *env) engineConfig(log *slog.Logger) (daemon.Config, error) {
	var cfg daemon.Config
	wakes, err := schedule.ParseHour(e.cfg.Value("BACKUP_DAEMON_HOUR"))
	if err != nil {
		return cfg, fmt.Errorf("BACKUP_DAEMON_HOUR (%s): %w", e.cfg.Source("BACKUP_DAEMON_HOUR"), err)
	}
	db, err := schedule.ParseCadence(e.cfg.Value("BACKUP_DB_CADENCE"))
	if err != nil {
		return cfg, fmt.Errorf("BACKUP_DB_CADENCE (%s): %w", e.cfg.Source("BACKUP_DB_CADENCE"), err)
	}
	hb, err := e.cfg.Heartbeat()
	if err != nil {
		return cfg, err
	}
	if hb != nil {
		cfg.Heartbeat = hb
	}
	cond, err := e.conditionSettings()
	if err != nil {
		return cfg, err
	}
	cfg.Gate, cfg.Recheck, cfg.DeferAlert = conditions.Gate{C: cond.checker}, cond.recheck, cond.deferAlert
	cfg.Wakes = wakes
	offsite, err := e.cfg.Bool("ENABLE_OFFSITE_BACKUP")
	if err != nil {
		return cfg, err
	}
	cfg.Jobs = daemon.Jobs(db, offsite)
	cfg.Runner = &jobRunner{e: e, log: log}
	return cfg, nil
}

// stateStore is the engine's record and locks, in the repository's
// local/ directory.
func (e *env) stateStore() *daemon.Store {
	return daemon.NewStore(filepath.Join(e.cfg.Value("BACKUP_REPO"), chunkstore.LocalDir))
}

// jobRunner runs the scheduled jobs in-process through package job, as
// the backup, rotate and push commands do, and logs what they report as
// records at its level, and their results as the commands render them,
// one record a line.
type jobRunner struct {
	e   *env
	log *slog.Logger
}

// Run runs a backup without retention (retention is a job of its own),
// retention, or the push obeying its conditions. Its error carries the
// job's class (see job.ClassOf): a push its conditions stopped is a
// *daemon.DeferredError, a failure a *daemon.ClassedError.
func (r *jobRunner) Run(ctx context.Context, name string) error {
	log := r.log.With("job", name)
	out := job.LineLog(log)
	defer out.Close()
	// The ui takes only what the jobs' wiring prints as lines (a classic
	// archive's name) and the service commands' output; every message goes
	// to rep.
	je := &env{ui: &ui{stdout: out, stderr: out, quiet: r.e.g.quiet}, cfg: r.e.cfg, g: r.e.g, helper: r.e.helper, rep: job.LogReporter{Log: log}}
	var err error
	switch name {
	case "db", "rootfs":
		// No flags: BACKUP_COMPAT decides on the classic archive.
		_, err = je.backup(ctx, name, backupOptions{noRotate: true}, func(res *job.BackupResult) { log.Info(backupLine(res)) })
	case "retention":
		var opt prune.Options
		if opt, err = je.rotation(nil, retention.Policy{}); err == nil {
			var rep *prune.Report
			if rep, err = je.rotate(ctx, opt); err == nil {
				printRotation(out, rep, opt)
			}
		}
	case "push":
		var res *job.PushResult
		if res, err = je.push(ctx, pushOptions{jobs: 4, whenAllowed: true}); res != nil {
			renderPush(out, res, false)
		}
	default:
		err = fmt.Errorf("unknown job %q", name)
	}
	return jobError(err)
}

// jobError turns a job's error into the daemon's typed outcome.
func jobError(err error) error {
	var de *job.DeferredError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return &daemon.DeferredError{Reason: de.Reason}
	}
	return &daemon.ClassedError{Class: string(job.ClassOf(err)), Err: err}
}

// LastSuccess returns when job last succeeded, as the repository
// records it (see job.LastSuccessIn).
func (r *jobRunner) LastSuccess(_ context.Context, name string) (time.Time, error) {
	return job.LastSuccessIn(r.e.cfg.Value("BACKUP_REPO"), name)
}

// hookHelperArg is the hidden command line of the hook helper: pocketsnap
// serving hooks.Serve.
const hookHelperArg = "__hook-helper"

// startHookHelper starts a copy of pocketsnap that runs the service
// commands (<KIND>_STOP_CMD, <KIND>_START_CMD) at the priority this
// process has now, so that a start command that launches the service
// itself does not leave it at the idle priority lowerPriority then sets.
// Without one (it could not start: nil), the commands run from this
// process, and the log says so. stop ends the helper.
func startHookHelper(log *slog.Logger) (h *hooks.Helper, stop func()) {
	exe, err := os.Executable()
	if err == nil {
		h, err = hooks.StartHelper(exe, hookHelperArg)
	}
	if err != nil {
		log.Warn("the service commands will run at idle priority", "error", err)
		return nil, func() {}
	}
	return h, func() {
		if err := h.Close(); err != nil {
			log.Warn("the command helper ended badly", "error", err)
		}
	}
}

// lowerPriority puts the process, and so every job it runs, at idle CPU
// and I/O priority, and says in the log what could not be set. The
// service commands run through the hook helper, if started before.
func lowerPriority(log *slog.Logger) {
	if err := idle.Lower(); err != nil {
		log.Warn("could not lower every priority; carrying on", "error", err)
		return
	}
	log.Info("running at idle priority", "nice", idle.Nice, "io_class", "idle")
}
