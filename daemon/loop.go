package daemon

import (
	"context"
	"strings"
	"time"
)

// Run is the daemon: a pass at once, which catches up on whatever a
// phone that was off or asleep missed, then a pass at every wake, until
// ctx is done; then it returns nil. A failed job is logged and recorded,
// and is retried at the next wake. A Config received on reload replaces
// the current one (between passes: a running pass finishes first) and is
// followed by a pass, as at start.
func (e *Engine) Run(ctx context.Context, reload <-chan Config) error {
	for ctx.Err() == nil {
		// The next wake is the one after the pass started: one that
		// passed while it ran comes at once.
		next := e.cfg.Wakes.Next(e.clock.Now())
		if err := e.RunDue(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("the pass ended with failures", "error", err)
		}
		if ctx.Err() != nil {
			break
		}
		e.log.Info("sleeping", "until", next.Format(time.RFC3339), "then", strings.Join(e.plan(ctx, next), ","))
		e.sleep(ctx, next, reload)
	}
	e.log.Info("stopped")
	return nil
}

// sleep waits until t, ctx's end or a new Config on reload, which it
// applies.
func (e *Engine) sleep(ctx context.Context, t time.Time, reload <-chan Config) {
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
