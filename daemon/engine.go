package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
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
// records how each went. It returns the failed jobs' errors joined, each
// naming its job. When ctx is cancelled the running job is interrupted
// (and recorded as such), no other starts, and RunDue returns ctx's error.
func (e *Engine) RunDue(ctx context.Context) error {
	release, err := e.keep.LockPass(ctx, e.PassWait, func() {
		e.log.Info("waiting for another process's scheduled jobs to finish")
	})
	if err != nil {
		return err
	}
	defer release()
	st := e.loadState()
	due := e.due(ctx, st, e.clock.Now())
	if len(due) == 0 {
		e.log.Info("nothing due")
		return nil
	}
	names := make([]string, len(due))
	for i, j := range due {
		names[i] = j.Name
	}
	e.log.Info("due now", "jobs", strings.Join(names, ","))
	var errs []error
	for _, j := range due {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := e.run(ctx, st, j); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", j.Name, err))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
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
// reports to the heartbeat.
func (e *Engine) run(ctx context.Context, st *State, j Job) error {
	rec := st.job(j.Name)
	start := e.clock.Now()
	*rec = JobRecord{LastAttempt: start, Result: ResultRunning, LastSuccess: rec.LastSuccess, PID: os.Getpid()}
	e.saveState(st)
	e.log.Info("job started", "job", j.Name)
	err := e.cfg.Runner.Run(ctx, j.Name)
	took := e.clock.Now().Sub(start)
	rec.DurationMS, rec.PID = took.Milliseconds(), 0
	switch {
	case err == nil:
		rec.Result, rec.LastSuccess = ResultOK, start
		e.log.Info("job done", "job", j.Name, "took", took.Round(time.Millisecond))
	case ctx.Err() != nil:
		rec.Result, rec.Error = ResultInterrupted, err.Error()
		e.log.Warn("job interrupted; it runs again at the next start or wake", "job", j.Name, "took", took.Round(time.Millisecond))
	default:
		rec.Result, rec.Error = ResultFailed, err.Error()
		e.log.Error("job failed; it is retried at the next wake", "job", j.Name, "error", err)
	}
	e.saveState(st)
	if ctx.Err() == nil && (err != nil || j.Heartbeat) {
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
