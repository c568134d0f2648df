package chunkstore

import (
	"context"
	"errors"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/flock"
)

// LockWait is [Store.Lock] that waits up to wait for the holder to let go,
// for commands that may start together (a scheduled backup and a rotate):
// they then run one after the other. waiting, if not nil, is called once,
// with the holder, when the wait begins. When the time is up it returns
// the *LockedError; cancelling ctx ends the wait with ctx's error.
func (s *Store) LockWait(ctx context.Context, exclusive bool, wait time.Duration, waiting func(*LockedError)) (*Lock, error) {
	return flock.Wait(ctx, wait, func() (*Lock, error) { return s.Lock(exclusive) }, func(err error) {
		var le *LockedError
		if waiting != nil && errors.As(err, &le) {
			waiting(le)
		}
	})
}
