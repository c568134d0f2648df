package daemon

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The daemon's log: a line per event with a UTC timestamp, as text or
// JSON; quiet keeps only warnings and errors.
func TestNewLogger(t *testing.T) {
	var text bytes.Buffer
	NewLogger(&text, false, false).Info("sleeping", "until", "2027-03-04T04:00:00Z")
	if !regexp.MustCompile(`^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ level=INFO msg=sleeping until=2027-03-04T04:00:00Z\n$`).MatchString(text.String()) {
		t.Errorf("text log: %q", text.String())
	}

	var js bytes.Buffer
	log := NewLogger(&js, true, true)
	log.Info("running at idle priority")
	log.Warn("heartbeat failed", "host", "hc.example")
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("quiet JSON log has %d lines, want the warning only:\n%s", len(lines), js.String())
	}
	var rec struct {
		Time, Level, Msg, Host string
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339, rec.Time); err != nil || !strings.HasSuffix(rec.Time, "Z") || rec.Level != "WARN" || rec.Msg != "heartbeat failed" || rec.Host != "hc.example" {
		t.Errorf("JSON record %+v (%v)", rec, err)
	}
}
