package chunkstore

import (
	"errors"
	"path/filepath"

	"github.com/pocketsnap/pocketsnap/internal/flock"
)

// LockedError is returned when another process holds the repository lock.
type LockedError struct {
	flock.HeldError
}

func (e *LockedError) Error() string { return "repository is " + e.HeldError.Error() }

// Unwrap returns the [flock.HeldError] underneath.
func (e *LockedError) Unwrap() error { return &e.HeldError }

// LockInfo describes the holder of an exclusive lock.
type LockInfo = flock.Holder

// Lock is a held repository lock. The kernel releases it when the process
// dies (flock(2)), so a killed backup never leaves a stale lock behind.
type Lock = flock.Lock

// lockRepo takes the lock on local/lock: shared for readers, exclusive for
// writers (backup, retention). It does not wait.
func lockRepo(dir string, exclusive bool) (*Lock, error) {
	l, err := flock.Take(filepath.Join(dir, "local", "lock"), exclusive)
	var he *flock.HeldError
	if errors.As(err, &he) {
		return nil, &LockedError{HeldError: *he}
	}
	return l, err
}
