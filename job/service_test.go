package job

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/hooks"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// discard is a Reporter that drops everything.
type discard struct{}

func (discard) Report(Level, string)                                      {}
func (discard) Progress(string, string, int64, *pipeline.Progress) func() { return func() {} }

// The start command runs even when staging panics, and the panic goes on.
func TestDBStartAfterPanicInStaging(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "db")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "000001.sst"), []byte("sst"), 0o644); err != nil {
		t.Fatal(err)
	}
	started := filepath.Join(dir, "started")
	stop, err := hooks.Parse("DB_STOP_CMD", "true")
	if err != nil {
		t.Fatal(err)
	}
	start, err := hooks.Parse("DB_START_CMD", "touch "+started)
	if err != nil {
		t.Fatal(err)
	}
	svc := Service{Stop: stop, Start: start, Immutable: func(string) bool { panic("staging bug") }}
	g := &stager{r: discard{}, log: io.Discard, timeout: time.Minute}
	defer func() {
		if r := recover(); r != "staging bug" {
			t.Fatalf("recovered %v, want the staging panic", r)
		}
		if _, err := os.Stat(started); err != nil {
			t.Fatal("DB_START_CMD did not run after a panic during staging")
		}
	}()
	g.stageStopped(t.Context(), svc, src, filepath.Join(dir, "staged"))
	t.Fatal("staging did not panic")
}

// Issue 18.19: a stop shorter than a millisecond is shown, not as 0s.
func TestRoundDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		300*time.Microsecond + 400: "300µs",
		1500 * time.Microsecond:    "2ms",
		2*time.Second + 123456789:  "2.123s",
	} {
		if got := roundDuration(d).String(); got != want {
			t.Errorf("roundDuration(%s) = %s, want %s", time.Duration(d), got, want)
		}
	}
}
