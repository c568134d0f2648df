package daemon

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/heartbeat"
	"github.com/pocketsnap/pocketsnap/schedule"
)

const token = "0d6bc0f4-heartbeat-token"

// pings is a healthchecks-style endpoint on 127.0.0.1 recording the paths
// it is sent.
type pings struct {
	mu    sync.Mutex
	paths []string
}

func (p *pings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paths = append(p.paths, r.URL.Path)
}

func (p *pings) got() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.paths, " ")
}

func pinger(t *testing.T, url string) *heartbeat.Pinger {
	t.Helper()
	hb, err := heartbeat.New(url)
	if err != nil {
		t.Fatal(err)
	}
	hb.Backoff = time.Millisecond
	return hb
}

// Issue 7, acceptance 3: a successful db backup pings the URL, a failed
// job <url>/fail, and no log line or record holds the token.
func TestHeartbeat(t *testing.T) {
	p := &pings{}
	srv := httptest.NewServer(p)
	defer srv.Close()
	s := newSim(t, "2027-03-31 05:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Daily, true),
		Heartbeat: pinger(t, srv.URL+"/"+token)}, false)
	s.runner.fail = func(job string, t time.Time) bool {
		return job == "db" && t.Day() == 1 || job == "push" && t.Day() == 2
	}
	s.until("2027-04-03 00:00")
	ok, fail := "/"+token, "/"+token+"/fail"
	// 31st: db ok; 1st: db fails; 2nd: db ok, push fails.
	if want := strings.Join([]string{ok, fail, ok, fail}, " "); p.got() != want {
		t.Errorf("pings %q, want %q", p.got(), want)
	}
	st, _ := s.keep.Load()
	host := strings.TrimPrefix(srv.URL, "http://")
	if h := st.Heartbeat; h == nil || h.Host != host || h.Reported != "failure" || h.Error != "" {
		t.Errorf("heartbeat record %+v", h)
	}
	log := s.logBuf.String()
	if strings.Contains(log, token) {
		t.Errorf("the log holds the token:\n%s", log)
	}
	if !strings.Contains(log, `msg="heartbeat sent" host=`+host+` reported=failure`) {
		t.Errorf("the log does not name the host and what was reported:\n%s", log)
	}
}

// A heartbeat server that is down fails only the ping: the backup is
// recorded as a success, the pass succeeds, and neither the log nor the
// record holds the token.
func TestHeartbeatServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	s := newSim(t, "2027-03-31 05:00", Config{Wakes: schedule.Wakes{Hour: 4}, Jobs: Jobs(schedule.Daily, false),
		Heartbeat: pinger(t, "http://"+host+"/ping/"+token)}, false)
	if err := s.engine().RunDue(context.Background()); err != nil {
		t.Fatalf("RunDue with the heartbeat down: %v", err)
	}
	st, _ := s.keep.Load()
	if r := st.Jobs["db"]; r.Result != ResultOK {
		t.Errorf("db record %+v", r)
	}
	h := st.Heartbeat
	if h == nil || h.Host != host || h.Reported != "success" || !strings.Contains(h.Error, "connection refused") {
		t.Errorf("heartbeat record %+v", h)
	}
	b, _ := os.ReadFile(filepath.Join(s.keep.(*Store).dir, stateFile))
	for what, text := range map[string]string{"log": s.logBuf.String(), "record": string(b)} {
		if strings.Contains(text, token) {
			t.Errorf("the %s holds the token:\n%s", what, text)
		}
	}
	if !strings.Contains(s.logBuf.String(), `msg="heartbeat failed" host=`+host) {
		t.Errorf("the log does not say the heartbeat failed:\n%s", s.logBuf)
	}
}
