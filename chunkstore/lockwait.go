package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// lockPoll is how often LockWait tries a lock that is taken.
const lockPoll = 50 * time.Millisecond

// LockWait is [Store.Lock] that waits up to wait for the holder to let go,
// for commands that may start together (a scheduled backup and a rotate):
// they then run one after the other. waiting, if not nil, is called once,
// with the holder, when the wait begins. When the time is up it returns
// the *LockedError; cancelling ctx ends the wait with ctx's error.
func (s *Store) LockWait(ctx context.Context, exclusive bool, wait time.Duration, waiting func(*LockedError)) (*Lock, error) {
	deadline := time.Now().Add(wait)
	for {
		l, err := s.Lock(exclusive)
		var le *LockedError
		if !errors.As(err, &le) {
			return l, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			if wait > 0 {
				return nil, fmt.Errorf("gave up after waiting %s: %w", wait, err)
			}
			return nil, err
		}
		if waiting != nil {
			waiting(le)
			waiting = nil
		}
		t := time.NewTimer(min(lockPoll, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
