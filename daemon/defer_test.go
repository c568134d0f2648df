package daemon

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/schedule"
)

// gateFunc holds jobs as a function of the simulated time says.
type gateFunc struct {
	clock *fakeClock
	hold  func(job string, t time.Time) string
}

func (g *gateFunc) Hold(ctx context.Context, job string) string {
	return g.hold(job, g.clock.Now())
}

// pingedSim is the phone's daily jobs with the push from the 1st of April
// 05:00, re-checked every 30 minutes, alerting after 3 days, pinging a
// heartbeat server.
func pingedSim(t *testing.T) (*sim, *pings) {
	p := &pings{}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return newSim(t, "2027-04-01 05:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Daily, true),
		Heartbeat: pinger(t, srv.URL+"/"+token), Recheck: 30 * time.Minute, DeferAlert: 72 * time.Hour}, false), p
}

// runsOf returns the times at which job ran.
func (r *fakeRunner) runsOf(job string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ts []time.Time
	for _, x := range r.runs {
		if x.job == job {
			ts = append(ts, x.at)
		}
	}
	return ts
}

// Issue 22.3: a push deferred at the wake (on mobile data) stays due and
// runs at the first re-check, every 30 minutes, at which the phone is on
// Wi-Fi again; the db backup and retention run at the wake regardless.
// Between wakes with nothing deferred, no re-check runs.
func TestDeferredJobRunsAtFirstAllowedRecheck(t *testing.T) {
	s := newSim(t, "2027-04-01 05:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Daily, true),
		Recheck: 30 * time.Minute, DeferAlert: 72 * time.Hour}, false)
	mobile, wifiBack := parse(t, "2027-04-02 03:00"), parse(t, "2027-04-02 09:10")
	g := &gateFunc{clock: s.clock, hold: func(job string, t time.Time) string {
		if job == "push" && t.After(mobile) && t.Before(wifiBack) {
			return "on mobile data"
		}
		return ""
	}}
	s.cfg.Gate = g
	s.until("2027-04-04 00:00")
	pushes := s.runner.runsOf("push")
	want := []string{"2027-04-01 05:09", "2027-04-02 09:36", "2027-04-03 04:06"}
	var got []string
	for _, p := range pushes {
		got = append(got, p.Format("2006-01-02 15:04"))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("pushes at %v, want %v\n%s", got, want, s.logBuf)
	}
	// The 2nd: db and retention at the wake, the push deferred at 04:06,
	// then run at the first re-check after 09:10 (09:06 was still on
	// mobile data).
	if d := s.runner.byDay()["2027-04-02"]; d != "db,retention,push" {
		t.Errorf("the 2nd ran %s", d)
	}
	log := s.logBuf.String()
	if !strings.Contains(log, `msg="job deferred; it stays due" job=push why="on mobile data" since=2027-04-02T04:00:00Z`) {
		t.Errorf("the deferral is not logged:\n%s", log)
	}
	if n := strings.Count(log, "re-checking deferred jobs"); n != 11 {
		t.Errorf("%d re-checks, want 11 (04:36 to 09:36 every 30 minutes)\n%s", n, log)
	}
	st, _ := s.keep.Load()
	if r := st.Jobs["push"]; r.Deferred != "" || !r.DeferredSince.IsZero() || r.Result != ResultOK {
		t.Errorf("push record after it ran: %+v", r)
	}
}

// Issue 22.3: once the push has been deferred for BACKUP_DEFER_ALERT (3
// days), the wake pings <url>/fail (once: not at every re-check) and
// withholds the db backup's success ping, until the push runs; the status
// shows the deferral meanwhile.
func TestDeferAlertPingsFailOnce(t *testing.T) {
	s, p := pingedSim(t)
	// On mobile data from the 1st at 06:00 until the 5th at 10:00.
	from, to := parse(t, "2027-04-01 06:00"), parse(t, "2027-04-05 10:00")
	s.cfg.Gate = &gateFunc{clock: s.clock, hold: func(job string, t time.Time) string {
		if job == "push" && !t.Before(from) && t.Before(to) {
			return "on mobile data"
		}
		return ""
	}}
	// The status while deferred, on the 3rd at noon.
	s.until("2027-04-03 12:00")
	st, err := s.engine().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range st.Jobs {
		if j.Name == "push" && (j.Deferred != "on mobile data" || !j.DeferredSince.Equal(parse(t, "2027-04-02 04:00"))) {
			t.Errorf("status of the push: %+v", j)
		}
	}
	s.until("2027-04-07 00:00")
	ok, fail := "/"+token, "/"+token+"/fail"
	// 1st (05:00 start): db ok. 2nd, 3rd, 4th: db ok, push deferred. 5th
	// 04:00: deferred since the 2nd 04:00, 3 days: no success, one fail;
	// the push runs at the 10:0x re-check. 6th: db ok.
	want := strings.Join([]string{ok, ok, ok, ok, fail, ok}, " ")
	if p.got() != want {
		t.Errorf("pings %q, want %q\n%s", p.got(), want, s.logBuf)
	}
	log := s.logBuf.String()
	if !strings.Contains(log, `msg="job deferred for too long" job=push why="on mobile data" since=2027-04-02T04:00:00Z alert_after=72h0m0s`) ||
		!strings.Contains(log, `msg="success not reported to the heartbeat while jobs are deferred for too long" job=db deferred=push`) {
		t.Errorf("the alert is not logged:\n%s", log)
	}
	if d := s.runner.byDay()["2027-04-05"]; d != "db,retention,push" {
		t.Errorf("the 5th ran %s", d)
	}
}

// Issue 22.4: a push that stops cleanly mid-way (the phone left Wi-Fi) is
// recorded as deferred, not failed: no failure ping, and it runs again at
// the next re-check.
func TestStoppedJobStaysDue(t *testing.T) {
	s, p := pingedSim(t)
	wifi := parse(t, "2027-04-01 06:00")
	s.runner.stop = func(job string, t time.Time) string {
		if job == "push" && t.Before(wifi) {
			return "on mobile data"
		}
		return ""
	}
	s.until("2027-04-01 12:00")
	var got []string
	for _, r := range s.runner.runsOf("push") {
		got = append(got, r.Format("15:04"))
	}
	// 05:09 stops; the re-checks at 05:42 (stops again) and 06:15 (runs).
	if strings.Join(got, " ") != "05:09 05:42 06:15" {
		t.Errorf("push runs at %v\n%s", got, s.logBuf)
	}
	if want := "/" + token; p.got() != want {
		t.Errorf("pings %q, want only the db's success %q", p.got(), want)
	}
	st, _ := s.keep.Load()
	if r := st.Jobs["push"]; r.Result != ResultOK || r.Deferred != "" {
		t.Errorf("push record %+v", r)
	}
	if !strings.Contains(s.logBuf.String(), `msg="job stopped cleanly, its conditions no longer hold; it stays due" job=push why="on mobile data"`) {
		t.Errorf("the stop is not logged:\n%s", s.logBuf)
	}
}
