package config

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// Issue 19 (and 21.6): the heartbeat is read from the configuration by
// config, with the push's resolver and trust: it pings a real server;
// unset, there is none; a bad URL names the key and its source, never
// the URL's secret.
func TestHeartbeat(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Store(r.URL.Path) }))
	defer srv.Close()
	c, err := Load(Options{EnvFile: os.DevNull, Environ: []string{"BACKUP_DAEMON_HC_URL=" + srv.URL + "/ping/s3cr3t"}})
	if err != nil {
		t.Fatal(err)
	}
	hb, err := c.Heartbeat()
	if err != nil {
		t.Fatal(err)
	}
	if hb.Host() != strings.TrimPrefix(srv.URL, "http://") || hb.Client == http.DefaultClient {
		t.Errorf("host %s, client %v", hb.Host(), hb.Client)
	}
	if err := hb.Report(t.Context(), false); err != nil || got.Load() != "/ping/s3cr3t/fail" {
		t.Errorf("a failure pinged %v: %v", got.Load(), err)
	}

	c, _ = Load(Options{EnvFile: os.DevNull})
	if hb, err := c.Heartbeat(); hb != nil || err != nil {
		t.Errorf("unset: %v, %v", hb, err)
	}
	c, _ = Load(Options{EnvFile: os.DevNull, Environ: []string{"BACKUP_DAEMON_HC_URL=ftp://hc.example/s3cr3t"}})
	if _, err := c.Heartbeat(); err == nil || !strings.HasPrefix(err.Error(), "BACKUP_DAEMON_HC_URL (environment): ") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("a bad URL: %v", err)
	}
}
