// Package flock takes flock(2) locks on files, and records in the file
// who holds it exclusively, so that a process finding it taken can say
// "locked by pid P (command) since T". The kernel drops a lock when its
// holder dies, so a killed process never leaves a stale lock behind; a
// record it left is recognised by its dead pid and ignored.
package flock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Holder describes the holder of an exclusive lock.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// HeldError is returned when another process holds the lock.
type HeldError struct {
	Path string
	// Holder is the exclusive holder; zero when unknown (a shared holder).
	Holder Holder
}

func (e *HeldError) Error() string {
	if e.Holder.PID == 0 {
		return fmt.Sprintf("locked by another process (%s)", e.Path)
	}
	return fmt.Sprintf("locked by pid %d (%s) since %s (%s)",
		e.Holder.PID, e.Holder.Command, e.Holder.Since.Format(time.RFC3339), e.Path)
}

// Lock is a held lock.
type Lock struct {
	f         *os.File
	exclusive bool
}

// Take locks the file at path (created 0600, in a directory created
// 0700 if needed), exclusively or shared, without waiting: it returns a
// *HeldError if the lock is taken. An exclusive holder records itself in
// the file.
func Take(path string, exclusive bool) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("failed to create lock directory: %w", err)
	}
	return TakeIn(path, exclusive)
}

// TakeIn is [Take] for a lock file whose directory must exist already: a
// lock on a file in a directory that another process removed fails
// rather than recreating it.
func TakeIn(path string, exclusive bool) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("failed to open lock file: %w", err)
	}
	return take(f, path, exclusive)
}

// TakeReadOnly takes a shared lock on the existing file at path, opened
// read-only: for a reader on a read-only file system, where the file
// cannot be opened for writing but flock(2) still excludes writers that
// reach the same file through another, writable mount.
func TakeReadOnly(path string) (*Lock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to open lock file: %w", err)
	}
	return take(f, path, false)
}

// take locks the open file f, found at path, and closes it on failure.
func take(f *os.File, path string, exclusive bool) (*Lock, error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			h, _ := Read(path)
			return nil, &HeldError{Path: path, Holder: h}
		}
		return nil, fmt.Errorf("failed to lock %s: %w", path, err)
	}
	if exclusive {
		info, _ := json.Marshal(Holder{PID: os.Getpid(), Command: strings.Join(os.Args, " "), Since: time.Now().UTC()})
		if err := f.Truncate(0); err == nil {
			_, _ = f.WriteAt(info, 0)
		}
	}
	return &Lock{f: f, exclusive: exclusive}, nil
}

// Read returns the exclusive holder recorded in the lock file at path, if
// that process is alive. A holder that let go cleared its record, and one
// that was killed left a dead pid.
func Read(path string) (Holder, bool) {
	var h Holder
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &h) != nil || !Alive(h.PID) {
		return Holder{}, false
	}
	return h, true
}

// Alive reports whether process pid exists.
func Alive(pid int) bool {
	return pid > 0 && unix.Kill(pid, 0) != unix.ESRCH
}

// Unlock releases the lock. An exclusive holder first clears its record,
// so that a later shared holder is not mistaken for it.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	if l.exclusive {
		_ = l.f.Truncate(0)
	}
	err := l.f.Close()
	l.f = nil
	return err
}
