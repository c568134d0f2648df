package daemon

import (
	"context"
	"maps"
	"slices"
	"time"
)

// hold asks the Gate whether j may run, and records it deferred if not:
// since the start of the pass (a wake) that first deferred it.
func (e *Engine) hold(ctx context.Context, st *State, j Job, now time.Time) bool {
	if e.cfg.Gate == nil {
		return false
	}
	why := e.cfg.Gate.Hold(ctx, j.Name)
	if why == "" {
		return false
	}
	rec := st.job(j.Name)
	if rec.DeferredSince.IsZero() {
		rec.DeferredSince = now
	}
	rec.Deferred = why
	e.saveState(st)
	e.log.Info("job deferred; it stays due", "job", j.Name, "why", why, "since", rec.DeferredSince.Format(time.RFC3339))
	return true
}

// clearDeferred forgets the deferral of a job no longer due (run by hand,
// say).
func (e *Engine) clearDeferred(st *State, due []Job) {
	for name, rec := range st.Jobs {
		if rec.Deferred != "" && !slices.ContainsFunc(due, func(j Job) bool { return j.Name == name }) {
			rec.Deferred, rec.DeferredSince = "", time.Time{}
			e.saveState(st)
		}
	}
}

// overdue returns the jobs deferred for DeferAlert or longer at now.
func (e *Engine) overdue(st *State, now time.Time) []string {
	var names []string
	for _, name := range slices.Sorted(maps.Keys(st.Jobs)) {
		rec := st.Jobs[name]
		if e.cfg.DeferAlert > 0 && rec.Deferred != "" && now.Sub(rec.DeferredSince) >= e.cfg.DeferAlert {
			names = append(names, name)
		}
	}
	return names
}

// alert reports a failure to the heartbeat when a job that was overdue at
// the start of the pass is still deferred: the owner must learn that
// nothing has left the phone for days.
func (e *Engine) alert(ctx context.Context, st *State, overdue []string) {
	var still []string
	for _, name := range overdue {
		if rec := st.Jobs[name]; rec != nil && rec.Deferred != "" {
			still = append(still, name)
			e.log.Error("job deferred for too long", "job", name, "why", rec.Deferred,
				"since", rec.DeferredSince.Format(time.RFC3339), "alert_after", e.cfg.DeferAlert.String())
		}
	}
	if len(still) > 0 {
		e.report(ctx, st, false)
	}
}
