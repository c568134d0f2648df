package daemon

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/schedule"
)

func TestStatus(t *testing.T) {
	s := newSim(t, "2027-03-05 10:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Weekly, false)}, false)
	s.runner.fail = func(job string, t time.Time) bool { return job == "rootfs" }
	s.engine().RunDue(context.Background())
	// A record of a job no longer configured (the push, turned off), and
	// one whose process was killed while it ran.
	st, _ := s.keep.Load()
	st.Jobs["push"] = &JobRecord{LastAttempt: parse(t, "2027-03-04 04:00"), Result: ResultOK, LastSuccess: parse(t, "2027-03-04 04:00")}
	st.Jobs["retention"].Result, st.Jobs["retention"].PID = ResultRunning, 1<<22+1
	if err := s.keep.Save(st); err != nil {
		t.Fatal(err)
	}
	s.clock.now = parse(t, "2027-03-06 12:00") // a Saturday

	got, err := s.engine().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !got.NextWake.Equal(parse(t, "2027-03-07 04:00")) {
		t.Errorf("next wake %s", got.NextWake)
	}
	// Retention is due now (its last success is of the 5th); rootfs has
	// never succeeded; db is weekly and done this week.
	if want := []string{"rootfs", "retention"}; !slices.Equal(got.DueNow, want) || !slices.Equal(got.DueNextWake, want) {
		t.Errorf("due now %v, at the next wake %v, want %v", got.DueNow, got.DueNextWake, want)
	}
	byName := map[string]JobStatus{}
	var names []string
	for _, j := range got.Jobs {
		byName[j.Name] = j
		names = append(names, j.Name)
	}
	if want := []string{"db", "rootfs", "retention", "push"}; !slices.Equal(names, want) {
		t.Errorf("jobs %v, want %v", names, want)
	}
	if j := byName["db"]; j.Cadence != "weekly" || j.Result != ResultOK || !j.LastSuccess.Equal(parse(t, "2027-03-05 10:00")) {
		t.Errorf("db %+v", j)
	}
	if j := byName["rootfs"]; j.Result != ResultFailed || j.Error == "" || !j.LastSuccess.IsZero() {
		t.Errorf("rootfs %+v", j)
	}
	if j := byName["retention"]; j.Result != ResultInterrupted {
		t.Errorf("retention, whose process is gone: %+v", j)
	}
	if j := byName["push"]; j.Cadence != "" || j.Result != ResultOK {
		t.Errorf("push %+v", j)
	}
}

// SIGHUP: a new configuration (wake at 02:00, db daily rather than
// monthly) replaces the old one while the daemon sleeps, and a pass
// follows at once, as at start: the db backup, now overdue.
func TestReload(t *testing.T) {
	s := newSim(t, "2027-03-01 04:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Monthly, false)}, true)
	next := s.cfg
	next.Wakes, next.Jobs = schedule.Wakes{Hour: 2}, Jobs(schedule.Daily, false)
	s.clock.hup, s.clock.hupAt = &next, parse(t, "2027-03-03 09:00")
	s.until("2027-03-06 00:00")
	got := s.runner.byDay()
	for day, want := range map[string]string{
		"2027-03-01": "db,rootfs,retention", "2027-03-02": "retention", "2027-03-03": "retention,db",
		"2027-03-04": "db,retention", "2027-03-05": "db,retention",
	} {
		if got[day] != want {
			t.Errorf("%s: ran %q, want %q", day, got[day], want)
		}
	}
	for _, r := range s.runner.runs {
		if r.at.After(parse(t, "2027-03-03 10:00")) && r.at.Hour() != 2 {
			t.Errorf("%s ran at %s after the reload to hour 2", r.job, r.at)
		}
	}
}
