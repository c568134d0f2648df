package memlimit

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// Issue 19: the heap limit, moved out of the command. It starts at the
// floor, and rises above a live heap larger than the floor, so that the
// collector does not run without pause.
func TestAdaptRaisesTheLimitAboveTheLiveHeap(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	const floor = 8 << 20
	go func() { defer close(done); Adapt(ctx, floor) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); debug.SetMemoryLimit(-1) != floor; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d, want the floor %d", debug.SetMemoryLimit(-1), floor)
		}
	}
	live := make([]byte, 64<<20) // a live heap 8 times the floor
	for i := range live {
		live[i] = byte(i)
	}
	runtime.GC()
	for deadline := time.Now().Add(10 * time.Second); debug.SetMemoryLimit(-1) < 64<<20*5/4; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d with a 64 MiB live heap, want at least 80 MiB", debug.SetMemoryLimit(-1))
		}
	}
	runtime.KeepAlive(live)
}
