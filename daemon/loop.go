package daemon

import (
	"context"
	"strings"
	"time"
)

// Run is the daemon: a pass at once, which catches up on whatever a
// phone that was off or asleep missed, then a pass at every wake, until
// ctx is done; then it returns nil. A failed job is logged and recorded,
// and is retried at the next wake. While a job is deferred, the Gate is
// asked again every Recheck between wakes. A Config received on reload
// replaces the current one (between passes: a running pass finishes
// first) and is followed by a pass, as at start.
func (e *Engine) Run(ctx context.Context, reload <-chan Config) error {
	for ctx.Err() == nil {
		// The next wake is the one after the pass started: one that
		// passed while it ran comes at once.
		next := e.cfg.Wakes.Next(e.clock.Now())
		if err := e.RunDue(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("the pass ended with failures", "error", err)
		}
		if ctx.Err() != nil || e.recheckUntil(ctx, next, reload) {
			continue
		}
		e.log.Info("sleeping", "until", next.Format(time.RFC3339), "then", strings.Join(e.plan(ctx, next), ","))
		e.sleep(ctx, next, reload)
	}
	e.log.Info("stopped")
	return nil
}

// recheckUntil re-checks the deferred jobs every Recheck while some are
// deferred, until the wake at next. It returns true when the
// configuration was reloaded (or ctx ended) meanwhile.
func (e *Engine) recheckUntil(ctx context.Context, next time.Time, reload <-chan Config) bool {
	for e.cfg.Recheck > 0 && ctx.Err() == nil {
		if !e.anyDeferred() {
			return false
		}
		at := e.clock.Now().Add(e.cfg.Recheck)
		if !at.Before(next) {
			return false
		}
		e.log.Info("sleeping until the re-check of deferred jobs", "until", at.Format(time.RFC3339))
		if e.sleep(ctx, at, reload) {
			return true
		}
		if err := e.pass(ctx, true); err != nil && ctx.Err() == nil {
			e.log.Warn("the re-check ended with failures", "error", err)
		}
	}
	return ctx.Err() != nil
}

// anyDeferred reports whether the record holds a deferred job.
func (e *Engine) anyDeferred() bool {
	for _, r := range e.loadState().Jobs {
		if r.Deferred != "" {
			return true
		}
	}
	return false
}

// sleep waits until t, ctx's end or a new Config on reload, which it
// applies; it reports whether it did.
func (e *Engine) sleep(ctx context.Context, t time.Time, reload <-chan Config) bool {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var cfg *Config
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case c := <-reload:
			cfg = &c
			cancel()
		case <-sctx.Done():
		}
	}()
	_ = e.clock.SleepUntil(sctx, t)
	cancel()
	<-done
	if cfg != nil {
		e.cfg = *cfg
		e.log.Info("configuration reloaded")
	}
	return cfg != nil
}

// plan returns the jobs that will be due at t, as things stand.
func (e *Engine) plan(ctx context.Context, t time.Time) []string {
	var names []string
	for _, j := range e.due(ctx, e.loadState(), t) {
		names = append(names, j.Name)
	}
	return names
}

// RealClock is the system's clock. SleepUntil wakes at least once a
// minute to compare the wall clock with its target, so that a suspended
// phone (whose monotonic clock, which timers follow, stood still) or a
// clock set forward does not oversleep a wake by more than a minute.
type RealClock struct{}

// Now returns the current time in UTC.
func (RealClock) Now() time.Time { return time.Now().UTC() }

// SleepUntil returns at t, or with ctx's error when ctx is done first.
func (RealClock) SleepUntil(ctx context.Context, t time.Time) error {
	for {
		d := time.Until(t)
		if d <= 0 {
			return nil
		}
		timer := time.NewTimer(min(d, time.Minute))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}
