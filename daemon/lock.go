package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/flock"
)

// RunningError is returned by [Store.LockDaemon] when a daemon runs for
// the repository already.
type RunningError struct {
	flock.HeldError
}

func (e *RunningError) Error() string {
	return "a daemon already runs for this repository: " + e.HeldError.Error()
}

// Holder is the process holding a lock.
type Holder = flock.Holder

const (
	daemonLock = "daemon.lock"
	passLock   = "schedule.lock"
)

// LockDaemon takes the daemon lock, local/daemon.lock, for the life of
// the process; release lets go.
func (s *Store) LockDaemon() (release func(), err error) {
	l, err := flock.Take(filepath.Join(s.dir, daemonLock), true)
	var he *flock.HeldError
	if errors.As(err, &he) {
		return nil, &RunningError{HeldError: *he}
	}
	if err != nil {
		return nil, err
	}
	return func() { l.Unlock() }, nil
}

// Daemon returns the daemon that runs for the repository, if one does.
func (s *Store) Daemon() (Holder, bool) {
	return flock.Read(filepath.Join(s.dir, daemonLock))
}

// LockPass takes the pass lock, local/schedule.lock, waiting up to wait
// (or until ctx is done) while another process's pass holds it.
func (s *Store) LockPass(ctx context.Context, wait time.Duration, waiting func()) (release func(), err error) {
	l, err := flock.Wait(ctx, wait, func() (*flock.Lock, error) {
		return flock.Take(filepath.Join(s.dir, passLock), true)
	}, func(error) {
		if waiting != nil {
			waiting()
		}
	})
	var he *flock.HeldError
	if errors.As(err, &he) {
		return nil, fmt.Errorf("another process is running the scheduled jobs: %w", err)
	}
	if err != nil {
		return nil, err
	}
	return func() { l.Unlock() }, nil
}
