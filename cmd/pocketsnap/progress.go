package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pocketsnap/pocketsnap/pipeline"
)

// progress shows a long operation's progress until it is done: one live
// line on stderr when that is a terminal (bytes, rate, and the ETA when the
// total is known), a status line every second with --json, and nothing in
// a pipe or with --quiet. Its done prints the operation's summary.
type progress struct {
	u    *ui
	stop func()
}

// statusInterval is how often --json reports a running operation.
const statusInterval = time.Second

// statusLine is the --json form of a running operation's progress.
type statusLine struct {
	Action     string `json:"action"`
	Count      int64  `json:"count"`
	Unit       string `json:"unit"`
	Bytes      int64  `json:"bytes"`
	TotalBytes int64  `json:"total_bytes,omitempty"`
	ElapsedMS  int64  `json:"elapsed_ms"`
}

// startProgress shows the progress of the operation label, which counts
// unit (entries, packs…; none when empty) and bytes in p, out of total
// bytes when total is positive.
func (u *ui) startProgress(label, unit string, total int64, p *pipeline.Progress) *progress {
	var show func(final bool)
	switch {
	case u.json():
		start := time.Now()
		show = func(bool) {
			u.emit(lineHeader{Type: msgStatus}, statusLine{label, p.Entries.Load(), unit, p.Bytes.Load(), max(total, 0), time.Since(start).Milliseconds()})
		}
	case u.terminal():
		show = u.progressBar(label, unit, total, p)
	default:
		return u.noProgress()
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		interval := statusInterval
		if !u.json() {
			interval = 250 * time.Millisecond
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				show(true)
				return
			case <-t.C:
				show(false)
			}
		}
	})
	return &progress{u: u, stop: func() { close(done); wg.Wait() }}
}

// noProgress is the progress of an operation that shows none, only its
// summary.
func (u *ui) noProgress() *progress { return &progress{u: u, stop: func() {}} }

// progressBar returns what draws one live line on the terminal; with
// final, it clears the line.
func (u *ui) progressBar(label, unit string, total int64, p *pipeline.Progress) func(final bool) {
	if total <= 0 {
		total = -1 // a spinner: bytes and rate, no ETA
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(u.stderr),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		// Redrawn by startProgress's ticker only: the library's own
		// spinner goroutine races with it.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionClearOnFinish(),
	)
	// Issue 18.19: the clock starts with the operation, not at the first
	// redraw, which would divide the bytes done by a few microseconds
	// ("649 GiB/s").
	bar.StartWithoutRender()
	return func(final bool) {
		if final {
			_ = bar.Finish()
			return
		}
		if unit != "" {
			bar.Describe(fmt.Sprintf("%s: %d %s", label, p.Entries.Load(), unit))
		}
		_ = bar.Set64(p.Bytes.Load())
	}
}

// done stops the display and prints the operation's summary: v with
// --json, else the text.
func (pr *progress) done(v any, format string, a ...any) {
	pr.stop()
	fmt.Fprintf(pr.u.stdout, format+"\n", a...)
	pr.u.summary(v)
}
