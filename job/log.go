package job

import (
	"bufio"
	"context"
	"io"
	"log/slog"

	"github.com/pocketsnap/pocketsnap/pipeline"
)

// LogReporter is the Reporter of a job run by the daemon: it logs what the
// job reports as structured records, warnings and errors at their levels
// and the rest as information, and shows no progress (the daemon logs the
// job's result instead).
type LogReporter struct{ Log *slog.Logger }

// Report logs msg at the slog level of level.
func (r LogReporter) Report(level Level, msg string) {
	l := slog.LevelInfo
	switch level {
	case Warning:
		l = slog.LevelWarn
	case Error:
		l = slog.LevelError
	}
	r.Log.Log(context.Background(), l, msg)
}

// Progress shows nothing.
func (LogReporter) Progress(string, string, int64, *pipeline.Progress) func() { return func() {} }

// LineLog returns an io.Writer that logs every non-empty line written to
// it as an information record of log: the output of the service commands
// and the lines of results of a job the daemon runs. Close logs a last
// line that has no newline, and returns once every line is logged.
func LineLog(log *slog.Logger) io.WriteCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if line := sc.Text(); line != "" {
				log.Info(line)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	return &lineLogger{pw: pw, done: done}
}

type lineLogger struct {
	pw   *io.PipeWriter
	done chan struct{}
}

func (l *lineLogger) Write(p []byte) (int, error) { return l.pw.Write(p) }

func (l *lineLogger) Close() error {
	err := l.pw.Close()
	<-l.done
	return err
}
