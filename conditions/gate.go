package conditions

import (
	"context"
	"sync/atomic"
	"time"
)

// Gate holds the scheduled jobs whose conditions do not hold: the rootfs
// backup until there is power to spare, the push until there is power and
// an allowed network. The db backup and retention always run. It is the
// daemon's Gate.
type Gate struct{ C *Checker }

// Hold returns why job must wait now, or "" when it may run.
func (g Gate) Hold(ctx context.Context, job string) string {
	var v Verdict
	switch job {
	case "rootfs":
		v = g.C.Heavy(ctx)
	case "push":
		v = g.C.Push(ctx)
	default:
		return ""
	}
	if v.Allowed {
		return ""
	}
	return v.Reason
}

// Watch asks the push's conditions again every period while a push runs,
// and keeps why they stopped holding.
type Watch struct {
	why  atomic.Pointer[string]
	stop func()
}

// WatchPush starts asking c.Push every period until the Watch is closed
// or the conditions stop holding.
func (c *Checker) WatchPush(ctx context.Context, every time.Duration) *Watch {
	w := &Watch{}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	w.stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if v := c.Push(ctx); !v.Allowed && ctx.Err() == nil {
				w.why.Store(&v.Reason)
				return
			}
		}
	}()
	return w
}

// Stop returns why the conditions stopped holding, or "" while they hold.
func (w *Watch) Stop() string {
	if p := w.why.Load(); p != nil {
		return *p
	}
	return ""
}

// Close stops watching.
func (w *Watch) Close() { w.stop() }
