package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/schedule"
)

// Issue 7, acceptance 2: catch-up after missed wakes, and retries after
// failures. Each case runs the daemon (with its record on disk) from
// start to end, with the phone off or asleep during the off intervals: a
// sleep that would end inside one ends when the phone is back. want lists
// the jobs run on each day that has runs; days not listed have none.
func TestCatchUp(t *testing.T) {
	for _, tc := range []struct {
		name       string
		db         schedule.Cadence
		start, end string
		off        [][2]string
		fail       func(job string, t time.Time) bool
		want       map[string]string
	}{{
		name: "off from day 3 to day 9: one db backup on day 9",
		db:   schedule.Daily, start: "2027-03-01 04:00", end: "2027-03-11 00:00",
		off: [][2]string{{"2027-03-02 23:00", "2027-03-09 10:30"}},
		want: map[string]string{
			"2027-03-01": "db,rootfs,retention", "2027-03-02": "db,retention",
			"2027-03-09": "db,retention", "2027-03-10": "db,retention",
		},
	}, {
		name: "rootfs missed on the 1st: once when next awake",
		db:   schedule.Weekly, start: "2027-03-29 04:00", end: "2027-04-06 00:00",
		off: [][2]string{{"2027-03-31 12:00", "2027-04-02 09:00"}},
		want: map[string]string{
			"2027-03-29": "db,rootfs,retention", "2027-03-30": "retention", "2027-03-31": "retention",
			"2027-04-02": "rootfs,retention", "2027-04-03": "retention", "2027-04-04": "retention",
			"2027-04-05": "db,retention",
		},
	}, {
		name: "weekly db missed on Monday: on Wednesday, then next Monday",
		db:   schedule.Weekly, start: "2027-03-01 04:00", end: "2027-03-16 00:00",
		off: [][2]string{{"2027-03-07 20:00", "2027-03-10 06:00"}},
		want: map[string]string{
			"2027-03-01": "db,rootfs,retention", "2027-03-02": "retention", "2027-03-03": "retention",
			"2027-03-04": "retention", "2027-03-05": "retention", "2027-03-06": "retention", "2027-03-07": "retention",
			"2027-03-10": "db,retention", "2027-03-11": "retention", "2027-03-12": "retention",
			"2027-03-13": "retention", "2027-03-14": "retention", "2027-03-15": "db,retention",
		},
	}, {
		name: "a wake passes during a pass: it is not missed",
		db:   schedule.Daily, start: "2027-03-01 03:58", end: "2027-03-03 00:00",
		want: map[string]string{
			// db at 03:58 counts for the 28th; rootfs (04:01) and
			// retention (04:04) for the 1st. The wake at 04:00 came
			// during the pass: db runs again at 04:07.
			"2027-03-01": "db,rootfs,retention,db", "2027-03-02": "db,retention",
		},
	}, {
		name: "daily db fails on day 3: retried at the next wake",
		db:   schedule.Daily, start: "2027-03-01 04:00", end: "2027-03-05 00:00",
		fail: func(job string, t time.Time) bool { return job == "db" && t.Day() == 3 },
		want: map[string]string{
			"2027-03-01": "db,rootfs,retention", "2027-03-02": "db,retention",
			"2027-03-03": "db,retention", "2027-03-04": "db,retention",
		},
	}, {
		name: "weekly db fails on Monday: retried Tuesday, then not until next Monday",
		db:   schedule.Weekly, start: "2027-03-08 04:00", end: "2027-03-16 00:00",
		fail: func(job string, t time.Time) bool { return job == "db" && t.Day() == 8 },
		want: map[string]string{
			"2027-03-08": "db,rootfs,retention", "2027-03-09": "db,retention", "2027-03-10": "retention",
			"2027-03-11": "retention", "2027-03-12": "retention", "2027-03-13": "retention",
			"2027-03-14": "retention", "2027-03-15": "db,retention",
		},
	}, {
		name: "rootfs fails three times: retried at each wake until it succeeds",
		db:   schedule.Monthly, start: "2027-04-01 04:00", end: "2027-04-07 00:00",
		fail: func(job string, t time.Time) bool { return job == "rootfs" && t.Day() <= 3 },
		want: map[string]string{
			"2027-04-01": "db,rootfs,retention", "2027-04-02": "rootfs,retention", "2027-04-03": "rootfs,retention",
			"2027-04-04": "rootfs,retention", "2027-04-05": "retention", "2027-04-06": "retention",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, tc.start, Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(tc.db, false)}, false)
			for _, iv := range tc.off {
				s.clock.off = append(s.clock.off, [2]time.Time{parse(t, iv[0]), parse(t, iv[1])})
			}
			s.runner.fail = tc.fail
			s.until(tc.end)
			got := s.runner.byDay()
			for day, jobs := range got {
				if tc.want[day] != jobs {
					t.Errorf("%s: ran %q, want %q", day, jobs, tc.want[day])
				}
			}
			for day, jobs := range tc.want {
				if got[day] == "" {
					t.Errorf("%s: ran nothing, want %q", day, jobs)
				}
			}
		})
	}
}

// A phone switched off (the daemon not running) rather than asleep: the
// daemon started on day 9 runs the missed db backup once, at start-up,
// from the record it finds.
func TestCatchUpAtStart(t *testing.T) {
	s := newSim(t, "2027-03-01 04:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Daily, false)}, false)
	s.until("2027-03-02 23:00")
	s.clock.now = parse(t, "2027-03-09 10:30")
	s.until("2027-03-09 23:00")
	runs := s.runner.byDay()
	if runs["2027-03-09"] != "db,retention" || len(runs) != 3 {
		t.Fatalf("runs %v, want db and retention once on 2027-03-09", runs)
	}
	if !strings.Contains(s.logBuf.String(), `msg="due now" jobs=db,retention`) {
		t.Errorf("the start-up pass does not say what is due:\n%s", s.logBuf)
	}
}

// A failed job's record says so, and run-due's error names it; the next
// success clears it.
func TestFailureRecorded(t *testing.T) {
	s := newSim(t, "2027-03-03 05:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Daily, false)}, false)
	s.runner.fail = func(job string, t time.Time) bool { return job == "rootfs" }
	err := s.engine().RunDue(context.Background())
	if err == nil || !strings.Contains(err.Error(), "rootfs: source of rootfs is missing") {
		t.Fatalf("RunDue = %v", err)
	}
	st, _ := s.keep.Load()
	r := st.Jobs["rootfs"]
	if r.Result != ResultFailed || r.Error != "source of rootfs is missing" || !r.LastSuccess.IsZero() || r.PID != 0 {
		t.Errorf("rootfs record %+v", r)
	}
	if r := st.Jobs["db"]; r.Result != ResultOK || !r.LastSuccess.Equal(parse(t, "2027-03-03 05:00")) {
		t.Errorf("db record %+v", r)
	}
	s.runner.fail = nil
	s.clock.now = parse(t, "2027-03-04 04:00")
	if err := s.engine().RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _ = s.keep.Load()
	if r := st.Jobs["rootfs"]; r.Result != ResultOK || r.Error != "" || !r.LastSuccess.Equal(parse(t, "2027-03-04 04:03")) { // after db
		t.Errorf("rootfs record after the retry %+v", r)
	}
}

// Cancelling the pass (SIGTERM) interrupts the running job, records it
// as interrupted, starts no other, and the next start runs it.
func TestInterrupted(t *testing.T) {
	s := newSim(t, "2027-03-03 05:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Daily, false)}, false)
	s.runner.block, s.runner.started = make(chan struct{}), make(chan string)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.engine().RunDue(ctx) }()
	if job := <-s.runner.started; job != "db" {
		t.Fatalf("first job %s", job)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunDue = %v", err)
	}
	st, _ := s.keep.Load()
	if r := st.Jobs["db"]; r.Result != ResultInterrupted || !strings.Contains(r.Error, "interrupted") {
		t.Errorf("db record %+v", r)
	}
	if len(st.Jobs) != 1 || len(s.runner.runs) != 1 {
		t.Errorf("other jobs started after the interruption: %v", s.runner.runs)
	}
	s.runner.block = nil
	if err := s.engine().RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.runner.byDay()["2027-03-03"]; got != "db,db,rootfs,retention" {
		t.Errorf("runs %q", got)
	}
}
