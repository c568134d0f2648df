package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/schedule"
)

// Job is one scheduled job.
type Job struct {
	// Name names the job to the Runner, in logs and in the state file:
	// db, rootfs, retention, push.
	Name    string
	Cadence schedule.Cadence
	// InRepository says that the Runner's LastSuccess is the record of
	// the job's successes (a backup's newest complete snapshot); otherwise
	// the state file's is.
	InRepository bool
	// Heartbeat says that a success is reported to the heartbeat (the db
	// backup's). Every job's failure is.
	Heartbeat bool
}

// Jobs is pocketsnap's schedule: the db backup at cadence db (its success
// reported to the heartbeat), the rootfs backup monthly, retention at
// every wake, and, with push, the offsite push daily. The backups' and
// retention's last successes are the repository's record (retention also
// runs after each backup and by hand, issue 18.20); the push's is the
// state file's.
func Jobs(db schedule.Cadence, push bool) []Job {
	js := []Job{
		{Name: "db", Cadence: db, InRepository: true, Heartbeat: true},
		{Name: "rootfs", Cadence: schedule.Monthly, InRepository: true},
		{Name: "retention", Cadence: schedule.Daily, InRepository: true},
	}
	if push {
		js = append(js, Job{Name: "push", Cadence: schedule.Daily})
	}
	return js
}

// DeferredError is what a Runner returns when a job found that its
// conditions no longer hold (the phone left Wi-Fi mid-push) and stopped
// cleanly: the job is recorded as deferred, not failed, and stays due.
type DeferredError struct {
	// Reason is why, e.g. "on mobile data".
	Reason string
}

func (e *DeferredError) Error() string { return "deferred: " + e.Reason }

// ClassedError is what a Runner returns for a failed job whose failure it
// can class (package job's classes: "incomplete", "locked", "identity",
// "verify", "error"): the record keeps the class, so that status tells a
// snapshot saved incomplete from a locked repository without reading
// the message.
type ClassedError struct {
	Class string
	Err   error
}

func (e *ClassedError) Error() string { return e.Err.Error() }
func (e *ClassedError) Unwrap() error { return e.Err }

// Runner runs jobs.
type Runner interface {
	// Run runs a job once. Cancelling ctx interrupts it safely.
	Run(ctx context.Context, job string) error
	// LastSuccess returns when a job kept InRepository last succeeded,
	// or the zero time if it never did.
	LastSuccess(ctx context.Context, job string) (time.Time, error)
}

// Heartbeat is told how jobs went (see package heartbeat).
type Heartbeat interface {
	// Report pings after a success (ok) or a failure.
	Report(ctx context.Context, ok bool) error
	// Host names the heartbeat in logs: the host of its secret URL.
	Host() string
}

// Gate tells whether a job's conditions (the phone's power, its network)
// hold now; see package conditions.
type Gate interface {
	// Hold returns why job must wait now, or "" when it may run.
	Hold(ctx context.Context, job string) string
}

// Clock tells the time and waits for it.
type Clock interface {
	Now() time.Time
	// SleepUntil returns nil at t, or ctx's error when it is done first.
	SleepUntil(ctx context.Context, t time.Time) error
}

// Keeper keeps the engine's record and makes its passes take turns;
// [*Store] keeps them on disk.
type Keeper interface {
	// Load returns the record; an empty one if there is none yet.
	Load() (*State, error)
	// Save replaces the record.
	Save(*State) error
	// LockPass waits up to wait (or until ctx is done) for any other
	// pass to end, calling waiting once if it has to wait, and holds
	// passes off until release.
	LockPass(ctx context.Context, wait time.Duration, waiting func()) (release func(), err error)
}

// Config is what an Engine runs, and when.
type Config struct {
	Wakes schedule.Wakes
	// Jobs are run in this order when due.
	Jobs   []Job
	Runner Runner
	// Heartbeat is nil when none is configured.
	Heartbeat Heartbeat
	// Gate, when set, may hold a due job: it is deferred, stays due, and
	// runs at the first wake or re-check at which Gate lets it.
	Gate Gate
	// Recheck is how often the daemon asks Gate again while a job is
	// deferred, between wakes; zero for only at wakes.
	Recheck time.Duration
	// DeferAlert is how long a job may stay deferred before every wake
	// reports a failure to the heartbeat, and withholds its success
	// pings, until the job runs; zero for never.
	DeferAlert time.Duration
}

// Engine runs the jobs of one repository when they are due.
type Engine struct {
	cfg   Config
	clock Clock
	keep  Keeper
	log   *slog.Logger
	// PassWait is how long a pass waits for another process's pass to
	// end before it gives up (the daemon waits for ever).
	PassWait time.Duration
}

// New returns an Engine that keeps its record with keep and logs one
// event per line to log.
func New(cfg Config, clock Clock, keep Keeper, log *slog.Logger) *Engine {
	return &Engine{cfg: cfg, clock: clock, keep: keep, log: log, PassWait: 10 * time.Minute}
}

// RunDue is one pass: it runs every job due now, once, in order, and
// records how each went. A job the Gate holds is recorded as deferred
// instead. It returns the failed jobs' errors joined, each naming its
// job. When ctx is cancelled the running job is interrupted (and recorded
// as such), no other starts, and RunDue returns ctx's error.
func (e *Engine) RunDue(ctx context.Context) error { return e.pass(ctx, false) }

// pass runs the due jobs; a re-check runs only those deferred, and sends
// no alert.
func (e *Engine) pass(ctx context.Context, recheck bool) error {
	release, err := e.keep.LockPass(ctx, e.PassWait, func() {
		e.log.Info("waiting for another process's scheduled jobs to finish")
	})
	if err != nil {
		return err
	}
	defer release()
	st := e.loadState()
	now := e.clock.Now()
	due := e.due(ctx, st, now)
	e.clearDeferred(st, due)
	if recheck {
		due = slices.DeleteFunc(due, func(j Job) bool { r := st.Jobs[j.Name]; return r == nil || r.Deferred == "" })
	}
	overdue := e.overdue(st, now)
	if len(due) == 0 {
		if !recheck {
			e.log.Info("nothing due")
		}
		return nil
	}
	names := make([]string, len(due))
	for i, j := range due {
		names[i] = j.Name
	}
	if recheck {
		e.log.Info("re-checking deferred jobs", "jobs", strings.Join(names, ","))
	} else {
		e.log.Info("due now", "jobs", strings.Join(names, ","))
	}
	var errs []error
	for _, j := range due {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if e.hold(ctx, st, j, now) {
			continue
		}
		if err := e.run(ctx, st, j, overdue); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", j.Name, err))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !recheck {
		e.alert(ctx, st, overdue)
	}
	return errors.Join(errs...)
}

// loadState reads the state file; an unreadable one is logged and
// replaced by an empty state, so that a damaged record never stops the
// backups.
func (e *Engine) loadState() *State {
	st, err := e.keep.Load()
	if err != nil {
		e.log.Warn("starting from an empty record", "error", err)
		return &State{}
	}
	return st
}

func (e *Engine) saveState(st *State) {
	if err := e.keep.Save(st); err != nil {
		e.log.Error("could not record the outcome", "error", err)
	}
}

// due returns the jobs due at now, in order. A job whose last success
// cannot be told is due: better a backup too many than one too few.
func (e *Engine) due(ctx context.Context, st *State, now time.Time) []Job {
	var due []Job
	for _, j := range e.cfg.Jobs {
		last, err := e.lastSuccess(ctx, st, j)
		if err != nil {
			e.log.Warn("cannot tell when the job last succeeded; counting it due", "job", j.Name, "error", err)
		}
		if e.cfg.Wakes.Due(j.Cadence, last, now) {
			due = append(due, j)
		}
	}
	return due
}

func (e *Engine) lastSuccess(ctx context.Context, st *State, j Job) (time.Time, error) {
	if j.InRepository {
		return e.cfg.Runner.LastSuccess(ctx, j.Name)
	}
	if r := st.Jobs[j.Name]; r != nil {
		return r.LastSuccess, nil
	}
	return time.Time{}, nil
}

// run runs one job, records the attempt before and its outcome after, and
// reports to the heartbeat: not a success while jobs are overdue.
func (e *Engine) run(ctx context.Context, st *State, j Job, overdue []string) error {
	rec := st.job(j.Name)
	start := e.clock.Now()
	since := rec.DeferredSince
	*rec = JobRecord{LastAttempt: start, Result: ResultRunning, LastSuccess: rec.LastSuccess, PID: os.Getpid()}
	e.saveState(st)
	e.log.Info("job started", "job", j.Name)
	err := e.cfg.Runner.Run(ctx, j.Name)
	took := e.clock.Now().Sub(start)
	rec.DurationMS, rec.PID = took.Milliseconds(), 0
	var de *DeferredError
	switch {
	case errors.As(err, &de) && ctx.Err() == nil:
		rec.Result, rec.Deferred, rec.DeferredSince = ResultStopped, de.Reason, cmp.Or(since, start)
		e.log.Info("job stopped cleanly, its conditions no longer hold; it stays due", "job", j.Name, "why", de.Reason, "took", took.Round(time.Millisecond))
		e.saveState(st)
		return nil
	case err == nil:
		rec.Result, rec.LastSuccess = ResultOK, start
		e.log.Info("job done", "job", j.Name, "took", took.Round(time.Millisecond))
	case ctx.Err() != nil:
		rec.Result, rec.Error = ResultInterrupted, err.Error()
		e.log.Warn("job interrupted; it runs again at the next start or wake", "job", j.Name, "took", took.Round(time.Millisecond))
	default:
		rec.Result, rec.Error = ResultFailed, err.Error()
		var ce *ClassedError
		if errors.As(err, &ce) {
			rec.Class = ce.Class
		}
		e.log.Error("job failed; it is retried at the next wake", "job", j.Name, "error", err, "class", rec.Class)
	}
	e.saveState(st)
	switch {
	case ctx.Err() != nil || err == nil && !j.Heartbeat:
	case err == nil && len(overdue) > 0:
		e.log.Warn("success not reported to the heartbeat while jobs are deferred for too long", "job", j.Name, "deferred", strings.Join(overdue, ","))
	default:
		e.report(ctx, st, err == nil)
	}
	return err
}

// report pings the heartbeat, if any, and records how that went. Its
// failure is logged, never returned: it must not fail a backup.
func (e *Engine) report(ctx context.Context, st *State, ok bool) {
	hb := e.cfg.Heartbeat
	if hb == nil {
		return
	}
	rec := &HeartbeatRecord{Time: e.clock.Now(), Host: hb.Host(), Reported: "success"}
	if !ok {
		rec.Reported = "failure"
	}
	if err := hb.Report(ctx, ok); err != nil {
		rec.Error = err.Error()
		e.log.Warn("heartbeat failed", "host", rec.Host, "reported", rec.Reported, "error", err)
	} else {
		e.log.Info("heartbeat sent", "host", rec.Host, "reported", rec.Reported)
	}
	st.Heartbeat = rec
	e.saveState(st)
}
