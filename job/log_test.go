package job

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// Issue 19: the daemon logs what a job reports as records at the
// message's level, and the lines a job's wiring prints (a service
// command's output) one record a line, the last one even without a
// newline, blank lines dropped.
func TestLogReporterAndLineLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	rep := LogReporter{log}
	for _, l := range []Level{Info, Result, Warning, Hint, Error} {
		rep.Report(l, fmt.Sprint("level ", l))
	}
	rep.Progress("backup db", "entries", 10, nil)()
	w := LineLog(log.With("job", "db"))
	fmt.Fprint(w, "stopping conduwuit\n\nstopped\npartial")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		`level=INFO msg="level 0"`,
		`level=INFO msg="level 1"`,
		`level=WARN msg="level 2"`,
		`level=INFO msg="level 3"`,
		`level=ERROR msg="level 4"`,
		`level=INFO msg="stopping conduwuit" job=db`,
		`level=INFO msg=stopped job=db`,
		`level=INFO msg=partial job=db`,
	}, "\n") + "\n"
	if buf.String() != want {
		t.Errorf("logged:\n%s\nwant:\n%s", buf.String(), want)
	}
}
