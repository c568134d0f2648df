package chunkstore

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"

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

// UnlockedError is returned by a shared [Store.Lock] when the lock file
// cannot be created because the repository's file system is read-only or
// not writable by this user, and no lock file is there to lock: the
// caller may go on reading without the lock.
type UnlockedError struct {
	Path string
	Err  error
}

func (e *UnlockedError) Error() string {
	return fmt.Sprintf("cannot lock the repository (%s: %v): reading it without the lock, so a backup or rotate running elsewhere on it is not kept out", e.Path, e.Err)
}

func (e *UnlockedError) Unwrap() error { return e.Err }

// lockRepo takes the lock on local/lock: shared for readers, exclusive for
// writers (backup, retention). It does not wait. A reader on a read-only
// or not writable repository locks an existing lock file through a
// read-only descriptor, and creates nothing: without one, it gets an
// *UnlockedError.
func lockRepo(dir string, exclusive bool) (*Lock, error) {
	path := filepath.Join(dir, LocalDir, "lock")
	l, err := flock.Take(path, exclusive)
	if err != nil && !exclusive && notWritable(err) {
		var rerr error
		if l, rerr = flock.TakeReadOnly(path); rerr != nil && (errors.Is(rerr, fs.ErrNotExist) || notWritable(rerr)) {
			return nil, &UnlockedError{Path: path, Err: err}
		}
		err = rerr
	}
	var he *flock.HeldError
	if errors.As(err, &he) {
		return nil, &LockedError{HeldError: *he}
	}
	return l, err
}

// notWritable reports whether err says the file system is read-only or
// the user may not write there.
func notWritable(err error) bool {
	return errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES)
}
