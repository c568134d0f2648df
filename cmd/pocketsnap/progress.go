package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pocketsnap/pocketsnap/pipeline"
)

// startProgress shows one live line with the entries and bytes processed,
// the rate and the elapsed time while a long operation runs, on a terminal
// only. The returned function stops it and clears the line.
func (u *ui) startProgress(label string, p *pipeline.Progress) func() {
	if !u.terminal() {
		return func() {}
	}
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(u.stderr),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				bar.Describe(fmt.Sprintf("%s: %d entries", label, p.Entries.Load()))
				_ = bar.Set64(p.Bytes.Load())
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		_ = bar.Finish()
	}
}

// byteProgress shows a bar of bytes done out of a total that the updates
// give, with rate and ETA, on a terminal only. update is safe for
// concurrent use; stop ends the bar and clears the line.
func (u *ui) byteProgress(label string) (update func(done, total int64), stop func()) {
	if !u.terminal() {
		return func(int64, int64) {}, func() {}
	}
	var mu sync.Mutex
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(u.stderr),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	update = func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if bar.GetMax64() != total {
			bar.ChangeMax64(total)
		}
		_ = bar.Set64(done)
	}
	return update, func() { _ = bar.Finish() }
}
