package chunkstore

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

// LockedError is returned when another process holds the repository lock.
type LockedError struct {
	Path string
	// Holder describes the process holding the lock, when known.
	Holder LockInfo
}

func (e *LockedError) Error() string {
	if e.Holder.PID == 0 {
		return fmt.Sprintf("repository is locked by another process (%s)", e.Path)
	}
	return fmt.Sprintf("repository is locked by pid %d (%s) since %s (%s)",
		e.Holder.PID, e.Holder.Command, e.Holder.Since.Format(time.RFC3339), e.Path)
}

// LockInfo describes the holder of an exclusive lock.
type LockInfo struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// Lock is a held repository lock. The kernel releases it when the process
// dies (flock(2)), so a killed backup never leaves a stale lock behind.
type Lock struct {
	f         *os.File
	exclusive bool
}

// Unlock releases the lock. An exclusive holder first clears its
// LockInfo, so that a later shared holder is not mistaken for it.
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

// lockRepo takes the lock on local/lock: shared for readers, exclusive for
// writers (backup, retention). It does not wait.
func lockRepo(dir string, exclusive bool) (*Lock, error) {
	path := filepath.Join(dir, "local", "lock")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("failed to create lock directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("failed to open lock file: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			le := &LockedError{Path: path}
			if b, err := os.ReadFile(path); err == nil {
				_ = json.Unmarshal(b, &le.Holder)
			}
			if le.Holder.PID != 0 && unix.Kill(le.Holder.PID, 0) == unix.ESRCH {
				// Left by an exclusive holder that was killed; a shared
				// holder has the lock now.
				le.Holder = LockInfo{}
			}
			return nil, le
		}
		return nil, fmt.Errorf("failed to lock %s: %w", path, err)
	}
	if exclusive {
		info, _ := json.Marshal(LockInfo{PID: os.Getpid(), Command: strings.Join(os.Args, " "), Since: time.Now().UTC()})
		if err := f.Truncate(0); err == nil {
			_, _ = f.WriteAt(info, 0)
		}
	}
	return &Lock{f: f, exclusive: exclusive}, nil
}
