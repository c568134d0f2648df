package flock

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// poll is how often Wait tries a lock that is taken.
const poll = 50 * time.Millisecond

// Wait calls take until the lock is free, for up to wait, or until ctx is
// done: take returns a *HeldError (wrapped or not) while another process
// holds the lock. waiting, if not nil, is called once, with that error,
// when the wait begins. When the time is up Wait returns the last
// *HeldError, wrapped to say how long it waited; cancelling ctx ends the
// wait with ctx's error. Any other result of take is returned as it is.
func Wait[L any](ctx context.Context, wait time.Duration, take func() (L, error), waiting func(error)) (L, error) {
	deadline := time.Now().Add(wait)
	for {
		l, err := take()
		var he *HeldError
		if !errors.As(err, &he) {
			return l, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			if wait > 0 {
				err = fmt.Errorf("gave up after waiting %s: %w", wait, err)
			}
			return l, err
		}
		if waiting != nil {
			waiting(err)
			waiting = nil
		}
		t := time.NewTimer(min(poll, left))
		select {
		case <-ctx.Done():
			t.Stop()
			var zero L
			return zero, ctx.Err()
		case <-t.C:
		}
	}
}
