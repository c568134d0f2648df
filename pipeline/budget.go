package pipeline

import (
	"context"

	"golang.org/x/sync/semaphore"
)

// budget bounds the bytes of pieces between the reader and the packer, so
// memory stays flat whatever the source size. It counts bytes exactly: a
// tar header of a few hundred bytes holds a few hundred bytes of it. (It
// used to count in 64 KiB units, so that the 8 MiB budget let at most 128
// pieces be in flight however small: on a tree of small files the workers
// ran out of pieces whenever one of them spent a while on a large chunk
// (issue 20.1).) One goroutine acquires, any may release.
type budget struct{ sem *semaphore.Weighted }

func newBudget(bytes int) budget { return budget{semaphore.NewWeighted(int64(bytes))} }

// acquire waits until n more bytes fit in the budget, or ctx is done.
func (b budget) acquire(ctx context.Context, n int) error {
	if err := b.sem.Acquire(ctx, int64(n)); err != nil {
		return context.Cause(ctx)
	}
	return nil
}

// release gives back n bytes acquired earlier.
func (b budget) release(n int) { b.sem.Release(int64(n)) }
