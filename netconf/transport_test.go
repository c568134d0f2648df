package netconf

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// Issue 21.6: an HTTP request (the heartbeat's ping, the bucket's calls)
// through Transport resolves its host with Termux's nameservers where
// /etc/resolv.conf is missing, and an address given by IP needs none.
func TestTransportOnAndroid(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	get := func(c Config, url string) error {
		tr, err := c.Transport("")
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}

	c := android(t)
	if err := get(c, "http://127.0.0.1:"+port+"/"); err != nil {
		t.Errorf("by IP, with no nameservers at all: %v", err)
	}
	if err := get(c, "http://ping.pocketsnap.test:"+port+"/"); err == nil {
		t.Error("a name resolved with no nameservers")
	}

	addr, queries := dnsStub(t, [4]byte{127, 0, 0, 1})
	if err := os.WriteFile(TermuxResolvConf(c.Prefix), []byte("nameserver "+addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := get(c, "http://ping.pocketsnap.test:"+port+"/"); err != nil || queries.Load() == 0 {
		t.Errorf("through Termux's resolv.conf: %v after %d stub queries", err, queries.Load())
	}

	if _, err := c.Transport("/nonexistent/ca.pem"); err == nil {
		t.Error("a missing S3_CA_FILE was accepted")
	}
}
