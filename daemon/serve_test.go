package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/schedule"
)

// stillClock is a clock that never reaches a wake: SleepUntil lasts
// until its context ends (a reload, or the end of the service).
type stillClock struct{ now time.Time }

func (c stillClock) Now() time.Time { return c.now }
func (c stillClock) SleepUntil(ctx context.Context, _ time.Time) error {
	<-ctx.Done()
	return ctx.Err()
}

// countRunner counts the runs of each job; every job is always due.
type countRunner struct {
	mu   sync.Mutex
	runs map[string]int
}

func (r *countRunner) Run(_ context.Context, job string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs[job]++
	return nil
}

func (r *countRunner) LastSuccess(context.Context, string) (time.Time, error) {
	return time.Time{}, nil
}

func (r *countRunner) count(job string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[job]
}

// Issue 18.14 and issue 19: the daemon's service, as the CLI's SIGHUP
// drives it. Off, it waits holding no lock and says so at each reload;
// turned on, it locks the repository and runs a pass; a reload that does
// not load or names another repository is refused and the schedule goes
// on; turned off, it stops the schedule and releases the lock; a new
// Config runs a pass; the end of ctx ends it with nil.
func TestServiceFollowsReloads(t *testing.T) {
	dir := t.TempDir()
	runner := &countRunner{runs: map[string]int{}}
	cfg := Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: []Job{{Name: "db", Cadence: schedule.Daily, InRepository: true}}, Runner: runner}
	var mu sync.Mutex
	next := Settings{Off: "ENABLE_BACKUP_DAEMON is not set", Repository: dir}
	var loadErr error
	set := func(s Settings, err error) {
		mu.Lock()
		defer mu.Unlock()
		next, loadErr = s, err
	}
	on := Settings{Repository: dir, Store: NewStore(dir), Config: cfg}
	buf := &syncBuffer{}
	started := make(chan Settings, 4)
	svc := &Service{
		Load: func() (Settings, error) {
			mu.Lock()
			defer mu.Unlock()
			return next, loadErr
		},
		Started: func(s Settings) { started <- s },
		Clock:   stillClock{parse(t, "2027-03-03 05:00")},
		Log:     slog.New(slog.NewTextHandler(buf, nil)),
	}
	waitLog := func(what string, n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); strings.Count(buf.String(), what) < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%q not logged %d times:\n%s", what, n, buf)
			}
		}
	}
	locked := func() bool {
		release, err := NewStore(dir).LockDaemon()
		if err == nil {
			release()
			return false
		}
		var re *RunningError
		if !errors.As(err, &re) {
			t.Fatal(err)
		}
		return true
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reload := make(chan os.Signal)
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, reload) }()
	const off = `msg="the daemon is off: waiting for SIGHUP (re-read the settings) or SIGTERM" why="ENABLE_BACKUP_DAEMON is not set"`
	waitLog(off, 1)
	reload <- os.Interrupt
	waitLog(off, 2)
	if locked() {
		t.Fatal("the daemon holds the repository's lock while off")
	}

	set(on, nil)
	reload <- os.Interrupt
	if s := <-started; s.Repository != dir {
		t.Errorf("Started with %+v", s)
	}
	waitLog(`msg=sleeping`, 1)
	if runner.count("db") != 1 || !locked() {
		t.Fatalf("on: %d db runs, locked %v\n%s", runner.count("db"), locked(), buf)
	}

	set(Settings{}, errors.New("BACKUP_DB_CADENCE: \"hourly\" is not a cadence"))
	reload <- os.Interrupt
	waitLog(`level=ERROR msg="configuration not reloaded" error="BACKUP_DB_CADENCE: \"hourly\" is not a cadence"`, 1)
	other := on
	other.Repository = dir + "/elsewhere"
	set(other, nil)
	reload <- os.Interrupt
	waitLog(`the repository changed from `+dir+` to `+dir+`/elsewhere: restart the daemon to move it`, 1)

	set(on, nil)
	reload <- os.Interrupt
	waitLog(`msg="configuration reloaded"`, 1)
	waitLog(`msg=sleeping`, 2)
	if n := runner.count("db"); n != 2 {
		t.Errorf("%d db runs after a reload, want 2 (a pass follows each new Config)", n)
	}

	set(Settings{Off: `ENABLE_BACKUP_DAEMON is "false"`, Repository: dir}, nil)
	reload <- os.Interrupt
	waitLog(`msg="the daemon is now off: stopping the schedule"`, 1)
	waitLog(`msg="the daemon is off: waiting for SIGHUP (re-read the settings) or SIGTERM" why="ENABLE_BACKUP_DAEMON is \"false\""`, 1)
	if locked() {
		t.Error("the daemon still holds the repository's lock once off")
	}
	if len(started) != 0 {
		t.Errorf("started %d more times", len(started))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v after ctx ended, want nil", err)
	}
}

// A daemon that cannot read its settings at start, or finds another
// daemon running for the repository, returns the error.
func TestServiceStartErrors(t *testing.T) {
	bad := errors.New("BACKUP_DAEMON_HOUR: \"25\" is not an hour")
	svc := &Service{Load: func() (Settings, error) { return Settings{}, bad }, Clock: stillClock{}, Log: slog.New(slog.DiscardHandler)}
	if err := svc.Serve(context.Background(), nil); !errors.Is(err, bad) {
		t.Errorf("Serve with bad settings = %v", err)
	}
	dir := t.TempDir()
	release, err := NewStore(dir).LockDaemon()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	svc.Load = func() (Settings, error) {
		return Settings{Repository: dir, Store: NewStore(dir), Config: Config{Runner: &countRunner{runs: map[string]int{}}}}, nil
	}
	var re *RunningError
	if err := svc.Serve(context.Background(), nil); !errors.As(err, &re) {
		t.Errorf("Serve beside a running daemon = %v, want a *RunningError", err)
	}
}
