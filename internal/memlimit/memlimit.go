// Package memlimit keeps the Go heap's soft limit near what a phone can
// spare, yet above the live heap.
package memlimit

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Floor is the floor of the soft limit of the Go heap. A phone has little
// free RAM, and the pipeline's working set is about 35 MiB (its in-flight
// budget, the encoders' state) plus what grows with the snapshot: since
// the device index moved to disk and manifests are read as a stream
// (issue 20), about 75 bytes per blob of the snapshot while a backup
// saves its manifest (the sorted blob set, its delta, its prefixes) and
// 35 per entry (the file index's compressed blocks), nearly all of it
// free of pointers and so cheap to collect: the collector need not let
// garbage pile up far above it. The 16 GiB bench tree (673,980 blobs,
// 349,241 entries) peaks at a 79 MB live heap in a first backup. Measured on the
// 1 GiB bench tree (21,649 entries): a 54 MiB floor gives a 63 MiB peak
// RSS for 18.2 CPU-seconds, 64 MiB 73 MiB for 18.8.
const Floor = 54 << 20

// Adapt keeps the soft heap limit at floor or 1.25 times the live heap,
// whichever is larger, checking every second until ctx is done. A fixed
// limit below the live heap (a source of very many files) would make the
// collector run without pause.
func Adapt(ctx context.Context, floor int64) {
	debug.SetMemoryLimit(floor)
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(live)
		debug.SetMemoryLimit(max(floor, int64(live[0].Value.Uint64())*5/4))
	}
}
