package daemon

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/schedule"
)

// expected is the oracle for a phone that is never off: the jobs that run
// on day d, in order, told by the calendar alone.
func expected(d time.Time, db schedule.Cadence, push bool) string {
	var js []string
	if db == schedule.Daily || db == schedule.Weekly && d.Weekday() == time.Monday || db == schedule.Monthly && d.Day() == 1 {
		js = append(js, "db")
	}
	if d.Day() == 1 {
		js = append(js, "rootfs")
	}
	js = append(js, "retention")
	if push {
		js = append(js, "push")
	}
	return strings.Join(js, ",")
}

// Issue 7, acceptance 1: more than two years of wakes, simulated, for
// every cadence and a few wake hours, give exactly the calendar's jobs on
// every day, across month ends, the leap day 2028-02-29 and two year
// changes. The simulation starts on Monday 2027-03-01, when every job is
// due by the calendar as well as never having run.
func TestTwoYearsOfWakes(t *testing.T) {
	for _, db := range []schedule.Cadence{schedule.Daily, schedule.Weekly, schedule.Monthly} {
		for _, hour := range []int{0, 4, 23} {
			for _, push := range []bool{false, true} {
				name := db.String() + "/" + (time.Duration(hour) * time.Hour).String()
				if push {
					name += "/push"
				}
				t.Run(name, func(t *testing.T) {
					start := time.Date(2027, 3, 1, hour, 0, 0, 0, time.UTC)
					s := newSim(t, start.Format("2006-01-02 15:04"), Config{Wakes: schedule.Wakes{Hour: hour}, Jobs: Jobs(db, push)}, true)
					s.until("2029-04-01 00:00")
					got := s.runner.byDay()
					days := 0
					for d := start; d.Before(time.Date(2029, 4, 1, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
						days++
						if want := expected(d, db, push); got[d.Format(time.DateOnly)] != want {
							t.Errorf("%s (%s): ran %q, want %q", d.Format(time.DateOnly), d.Weekday(), got[d.Format(time.DateOnly)], want)
						}
					}
					if days != 762 || len(got) != days {
						t.Errorf("simulated %d days, runs on %d", days, len(got))
					}
					for _, r := range s.runner.runs {
						if r.at.Hour() != hour {
							t.Fatalf("%s ran at %s, not in the wake hour", r.job, r.at)
						}
					}
				})
			}
		}
	}
}

// A few days, spelled out, so that a mistake shared by the engine and the
// oracle above still shows.
func TestWakesSpelledOut(t *testing.T) {
	s := newSim(t, "2027-12-27 04:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Weekly, true)}, true)
	s.until("2028-03-07 00:00")
	got := s.runner.byDay()
	for day, want := range map[string]string{
		"2027-12-27": "db,rootfs,retention,push", // start: nothing ever ran
		"2027-12-31": "retention,push",
		"2028-01-01": "rootfs,retention,push", // a Saturday
		"2028-01-03": "db,retention,push",     // a Monday
		"2028-02-28": "db,retention,push",     // a Monday
		"2028-02-29": "retention,push",
		"2028-03-01": "rootfs,retention,push",
		"2028-03-06": "db,retention,push",
	} {
		if got[day] != want {
			t.Errorf("%s: ran %q, want %q", day, got[day], want)
		}
	}
}

// Issue 19: the schedule's job list is the daemon's: the db backup at its
// cadence and the only success the heartbeat hears of, the rootfs backup
// monthly, retention at every wake (the three judged by the repository),
// and the push only when asked, by the state file.
func TestJobs(t *testing.T) {
	got := Jobs(schedule.Weekly, false)
	want := []Job{
		{Name: "db", Cadence: schedule.Weekly, InRepository: true, Heartbeat: true},
		{Name: "rootfs", Cadence: schedule.Monthly, InRepository: true},
		{Name: "retention", Cadence: schedule.Daily, InRepository: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Jobs(weekly, false) = %+v", got)
	}
	if got := Jobs(schedule.Daily, true); len(got) != 4 || got[3] != (Job{Name: "push", Cadence: schedule.Daily}) {
		t.Errorf("Jobs(daily, true) = %+v", got)
	}
}
