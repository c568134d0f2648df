package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// fakeClock is simulated time. SleepUntil jumps to its target at once;
// a target inside one of the off intervals (the phone off or asleep) is
// reached only at the interval's end. Once time reaches end, it cancels
// the simulation.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	off  [][2]time.Time
	end  time.Time
	stop context.CancelFunc
	// hup, when set, is sent on reload by the first sleep to a target
	// after hupAt; that sleep then lasts until the engine takes it.
	hup    *Config
	hupAt  time.Time
	reload chan Config
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	if c.hup != nil && t.After(c.hupAt) {
		cfg := *c.hup
		c.hup = nil
		c.now = c.hupAt
		c.mu.Unlock()
		c.reload <- cfg
		<-ctx.Done()
		return ctx.Err()
	}
	defer c.mu.Unlock()
	for _, iv := range c.off {
		if !t.Before(iv[0]) && t.Before(iv[1]) {
			t = iv[1]
		}
	}
	c.now = t
	if !t.Before(c.end) {
		c.stop()
		return context.Canceled
	}
	return ctx.Err()
}

// run is one job run seen by the fake runner.
type run struct {
	at  time.Time
	job string
}

// fakeRunner runs jobs instantly (each takes 3 simulated minutes) and
// keeps, as a repository would, the start time of every successful run.
type fakeRunner struct {
	mu    sync.Mutex
	clock *fakeClock
	runs  []run
	// fail says whether a job fails when it runs at t.
	fail func(job string, t time.Time) bool
	// stop, if set, says why a job run at t stops cleanly, its
	// conditions gone; "" when it does not.
	stop func(job string, t time.Time) string
	// block, if set, is where a job waits until it is closed (or ctx
	// ends the job), after it says so on started.
	block   chan struct{}
	started chan string
	last    map[string]time.Time
}

func (r *fakeRunner) Run(ctx context.Context, job string) error {
	now := r.clock.Now()
	r.mu.Lock()
	r.runs = append(r.runs, run{now, job})
	r.mu.Unlock()
	if r.block != nil {
		r.started <- job
		select {
		case <-r.block:
		case <-ctx.Done():
			return fmt.Errorf("backup of %s interrupted: %w", job, ctx.Err())
		}
	}
	r.clock.advance(3 * time.Minute)
	if r.stop != nil {
		if why := r.stop(job, now); why != "" {
			return &DeferredError{Reason: why}
		}
	}
	if r.fail != nil && r.fail(job, now) {
		return errors.New("source of " + job + " is missing")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]time.Time{}
	}
	r.last[job] = now
	return nil
}

func (r *fakeRunner) LastSuccess(ctx context.Context, job string) (time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[job], nil
}

// byDay returns the jobs run on each UTC day, in order, as "db,rootfs".
func (r *fakeRunner) byDay() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]string{}
	for _, x := range r.runs {
		d := x.at.Format(time.DateOnly)
		if m[d] != "" {
			m[d] += ","
		}
		m[d] += x.job
	}
	return m
}

// sim is an engine on a fake clock and runner, logging to a buffer, with
// its state in a temporary directory, or in memory when fast is set.
type sim struct {
	t      *testing.T
	clock  *fakeClock
	runner *fakeRunner
	keep   Keeper
	logBuf *syncBuffer
	cfg    Config
}

func newSim(t *testing.T, start string, cfg Config, fast bool) *sim {
	t.Helper()
	c := &fakeClock{now: parse(t, start), reload: make(chan Config)}
	s := &sim{t: t, clock: c, runner: &fakeRunner{clock: c}, logBuf: &syncBuffer{}}
	if fast {
		s.keep = &memKeeper{}
	} else {
		s.keep = NewStore(t.TempDir())
	}
	cfg.Runner = s.runner
	s.cfg = cfg
	return s
}

func (s *sim) engine() *Engine {
	return New(s.cfg, s.clock, s.keep, slog.New(slog.NewTextHandler(s.logBuf, nil)))
}

// until runs the daemon from the clock's time until end.
func (s *sim) until(end string) {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.clock.end, s.clock.stop = parse(s.t, end), cancel
	if err := s.engine().Run(ctx, s.clock.reload); err != nil {
		s.t.Fatal(err)
	}
}

func parse(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// syncBuffer is a bytes.Buffer safe for the engine's and the test's
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// memKeeper keeps the record in memory, for simulations of years: the
// file Store fsyncs every change.
type memKeeper struct {
	mu sync.Mutex
	st State
}

func (m *memKeeper) Load() (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := State{Jobs: map[string]*JobRecord{}, Heartbeat: m.st.Heartbeat}
	for k, v := range m.st.Jobs {
		r := *v
		st.Jobs[k] = &r
	}
	return &st, nil
}

func (m *memKeeper) Save(st *State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st = *st
	return nil
}

func (m *memKeeper) LockPass(ctx context.Context, wait time.Duration, waiting func()) (func(), error) {
	return func() {}, nil
}
