package main

import (
	"fmt"

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
