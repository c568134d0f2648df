package daemon

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/flock"
)

// Status is what the engine knows and plans, for `pocketsnap status`.
type Status struct {
	Now time.Time `json:"now"`
	// DueNow are the jobs a pass would run now (`run-due`).
	DueNow   []string  `json:"due_now"`
	NextWake time.Time `json:"next_wake"`
	// DueNextWake are the jobs the next wake will run, as things stand.
	DueNextWake []string    `json:"due_next_wake"`
	Jobs        []JobStatus `json:"jobs"`
	// Heartbeat is the last ping, if there was one.
	Heartbeat *HeartbeatRecord `json:"heartbeat,omitempty"`
}

// JobStatus is a job's schedule and record. A job the state file records
// but the configuration does not list (say, the push once it was turned
// off) is listed with no cadence.
type JobStatus struct {
	Name    string `json:"name"`
	Cadence string `json:"cadence,omitempty"`
	JobRecord
}

// Status reports the state of every job and what is due now and at the
// next wake. It takes no lock: it may run while a pass does.
func (e *Engine) Status(ctx context.Context) (*Status, error) {
	st, err := e.keep.Load()
	if err != nil {
		return nil, err
	}
	now := e.clock.Now()
	s := &Status{Now: now, NextWake: e.cfg.Wakes.Next(now), DueNow: []string{}, DueNextWake: []string{}, Jobs: []JobStatus{}, Heartbeat: st.Heartbeat}
	for _, j := range e.cfg.Jobs {
		js := JobStatus{Name: j.Name, Cadence: j.Cadence.String()}
		if r := st.Jobs[j.Name]; r != nil {
			js.JobRecord = *r
		}
		last, err := e.lastSuccess(ctx, st, j)
		if err != nil {
			return nil, err
		}
		js.LastSuccess = last
		s.Jobs = append(s.Jobs, js)
		if e.cfg.Wakes.Due(j.Cadence, last, now) {
			s.DueNow = append(s.DueNow, j.Name)
		}
		if e.cfg.Wakes.Due(j.Cadence, last, s.NextWake) {
			s.DueNextWake = append(s.DueNextWake, j.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(st.Jobs)) {
		if !slices.ContainsFunc(e.cfg.Jobs, func(j Job) bool { return j.Name == name }) {
			s.Jobs = append(s.Jobs, JobStatus{Name: name, JobRecord: *st.Jobs[name]})
		}
	}
	for i := range s.Jobs {
		if r := &s.Jobs[i]; r.Result == ResultRunning && !flock.Alive(r.PID) {
			r.Result, r.Error = ResultInterrupted, "its process ended while it ran"
		}
	}
	return s, nil
}
