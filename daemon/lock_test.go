package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/schedule"
)

// One daemon per repository: a second is refused, naming the first's pid,
// and the lock is free again once released.
func TestLockDaemon(t *testing.T) {
	dir := t.TempDir()
	release, err := NewStore(dir).LockDaemon()
	if err != nil {
		t.Fatal(err)
	}
	h, ok := NewStore(dir).Daemon()
	if !ok || h.PID != os.Getpid() {
		t.Errorf("Daemon() = %+v, %v", h, ok)
	}
	_, err = NewStore(dir).LockDaemon()
	var re *RunningError
	if !errors.As(err, &re) || re.Holder.PID != os.Getpid() || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("second LockDaemon = %v", err)
	}
	release()
	if _, ok := NewStore(dir).Daemon(); ok {
		t.Error("Daemon() reports a daemon after release")
	}
	release, err = NewStore(dir).LockDaemon()
	if err != nil {
		t.Fatalf("LockDaemon after release: %v", err)
	}
	release()
}

// A pass started while another runs waits for it, then finds the work
// done rather than doing it again; with no time to wait it gives up.
func TestPassesTakeTurns(t *testing.T) {
	s := newSim(t, "2027-03-03 05:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Daily, false)}, false)
	s.runner.block, s.runner.started = make(chan struct{}), make(chan string)
	first := make(chan error)
	go func() { first <- s.engine().RunDue(context.Background()) }()
	<-s.runner.started

	quick := s.engine()
	quick.PassWait = 0
	if err := quick.RunDue(context.Background()); err == nil || !strings.Contains(err.Error(), "another process is running the scheduled jobs") {
		t.Fatalf("a pass with no wait = %v", err)
	}
	second := make(chan error)
	go func() { second <- s.engine().RunDue(context.Background()) }()
	for !strings.Contains(s.logBuf.String(), "waiting for another process's scheduled jobs") {
		time.Sleep(time.Millisecond)
	}
	go func() {
		for range s.runner.started { // rootfs and retention of the first pass
		}
	}()
	close(s.runner.block)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	close(s.runner.started)
	if got := s.runner.byDay()["2027-03-03"]; got != "db,rootfs,retention" {
		t.Errorf("runs %q, want each job once", got)
	}
	if !strings.Contains(s.logBuf.String(), "nothing due") {
		t.Errorf("the second pass did not find the work done:\n%s", s.logBuf)
	}
}

// An unreadable record is logged and replaced: the backups go on.
func TestDamagedState(t *testing.T) {
	s := newSim(t, "2027-03-03 05:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Daily, false)}, false)
	path := filepath.Join(s.keep.(*Store).dir, stateFile)
	if err := os.WriteFile(path, []byte(`{"jobs": {"db": `), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.engine().RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.logBuf.String(), "invalid daemon state "+path) {
		t.Errorf("the damaged record is not reported:\n%s", s.logBuf)
	}
	st, err := s.keep.Load()
	if err != nil || st.Jobs["retention"].Result != ResultOK {
		t.Fatalf("record after the pass: %+v, %v", st, err)
	}
}
