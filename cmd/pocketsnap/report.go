package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/pocketsnap/pocketsnap/job"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// uiReporter renders what a job reports on the terminal: results on
// stdout, the rest on stderr as the ui marks them.
type uiReporter struct{ u *ui }

func (r uiReporter) Report(level job.Level, msg string) {
	switch level {
	case job.Info:
		r.u.infof("%s", msg)
	case job.Result:
		fmt.Fprintln(r.u.stdout, msg)
	case job.Warning:
		r.u.warnf("%s", msg)
	case job.Hint:
		r.u.hintf("%s", msg)
	case job.Error:
		r.u.errorf("%s", msg)
	}
}

func (r uiReporter) Progress(label, unit string, total int64, p *pipeline.Progress) func() {
	return r.u.startProgress(label, unit, total, p).stop
}

// logReporter logs what a scheduled job reports as structured records:
// warnings and errors at their levels, the rest as information.
type logReporter struct{ log *slog.Logger }

func (r logReporter) Report(level job.Level, msg string) {
	l := slog.LevelInfo
	switch level {
	case job.Warning:
		l = slog.LevelWarn
	case job.Error:
		l = slog.LevelError
	}
	r.log.Log(context.Background(), l, msg)
}

// Progress shows nothing: the daemon logs the job's result instead.
func (logReporter) Progress(string, string, int64, *pipeline.Progress) func() { return func() {} }

// reporter is where e's messages go: the daemon's log, or the terminal.
func (e *env) reporter() job.Reporter {
	if e.rep != nil {
		return e.rep
	}
	return uiReporter{e.ui}
}

// say reports one message through e's reporter.
func (e *env) say(level job.Level, format string, a ...any) {
	e.reporter().Report(level, fmt.Sprintf(format, a...))
}

// lineLog is an io.Writer that logs every line written to it as an event
// with the attributes of a scheduled job: the service commands' output
// and the lines of results the job prints. Close logs a last line that
// has no newline.
func lineLog(log *slog.Logger) io.WriteCloser {
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
