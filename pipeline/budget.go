package pipeline

import "context"

// budgetUnit is the granularity of the in-flight byte budget.
const budgetUnit = 64 << 10

// budget bounds the bytes of pieces between the reader and the packer, so
// memory stays flat whatever the source size. Its methods count in units
// of budgetUnit bytes (see units). One goroutine acquires, any may
// release.
type budget chan struct{}

func newBudget(bytes int) budget { return make(budget, bytes/budgetUnit) }

// units returns the budget units that n bytes take.
func units(n int) int { return (n + budgetUnit - 1) / budgetUnit }

func (b budget) acquire(ctx context.Context, n int) error {
	for range n {
		select {
		case b <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

func (b budget) release(n int) {
	for range n {
		<-b
	}
}
