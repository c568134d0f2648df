package heartbeat

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const token = "5b1e4cbd-7f0e-4d6a-9b43-token"

// server is a ping endpoint on 127.0.0.1 that records the paths it gets
// and answers with the given statuses in turn (then 200).
type server struct {
	*httptest.Server
	mu     sync.Mutex
	paths  []string
	status []int
}

func newServer(t *testing.T, status ...int) *server {
	s := &server{status: status}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.paths = append(s.paths, r.Method+" "+r.URL.Path)
		code := http.StatusOK
		if len(s.status) > 0 {
			code, s.status = s.status[0], s.status[1:]
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

func pinger(t *testing.T, url string) *Pinger {
	t.Helper()
	p, err := New(url)
	if err != nil {
		t.Fatal(err)
	}
	p.Backoff = time.Millisecond
	return p
}

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ok     bool
		status []int
		want   []string
		fails  bool
	}{
		{"success", true, nil, []string{"GET /ping/" + token}, false},
		{"failure", false, nil, []string{"GET /ping/" + token + "/fail"}, false},
		{"retried", true, []int{503, 500}, []string{"GET /ping/" + token, "GET /ping/" + token, "GET /ping/" + token}, false},
		{"gives up", false, []int{503, 503, 503}, []string{"GET /ping/" + token + "/fail", "GET /ping/" + token + "/fail", "GET /ping/" + token + "/fail"}, true},
		{"not found is final", true, []int{404}, []string{"GET /ping/" + token}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.status...)
			p := pinger(t, s.URL+"/ping/"+token+"/")
			err := p.Report(context.Background(), tc.ok)
			if (err != nil) != tc.fails {
				t.Fatalf("Report: %v", err)
			}
			if got := s.got(); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("server got %q, want %q", got, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), p.Host())) {
				t.Errorf("error %q quotes the token or lacks the host", err)
			}
		})
	}
}

// A server that is down costs the attempts and an error naming only the
// host.
func TestReportServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := pinger(t, "http://"+addr+"/ping/"+token+"?key="+token)
	err = p.Report(context.Background(), true)
	if err == nil {
		t.Fatal("ping to a closed port succeeded")
	}
	if strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q quotes the token or lacks the host", err)
	}
}

// An answer that never comes is cut off by the timeout, and the error
// does not quote the URL.
func TestReportTimeout(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer s.Close()
	defer close(release)
	p := pinger(t, s.URL+"/"+token)
	p.Timeout, p.Attempts = 20*time.Millisecond, 2
	err := p.Report(context.Background(), false)
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("Report = %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, u := range []string{"", "hc-ping.com/" + token, "ftp://host/" + token, "https:///" + token, "http://[::1" + token} {
		_, err := New(u)
		if err == nil {
			t.Errorf("New(%q) succeeded", u)
		} else if strings.Contains(err.Error(), token) {
			t.Errorf("New(%q) error quotes the token: %v", u, err)
		}
	}
}
