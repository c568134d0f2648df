package flock

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// Wait goes on while the lock is held and stops at once on any other
// error; it says once that it waits.
func TestWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	held, err := Take(path, true)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(150*time.Millisecond, func() { held.Unlock() })
	waits := 0
	l, err := Wait(context.Background(), 10*time.Second, func() (*Lock, error) { return Take(path, true) }, func(err error) {
		waits++
		var he *HeldError
		if !errors.As(err, &he) {
			t.Errorf("waiting was told %v, want a *HeldError", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	if waits != 1 {
		t.Errorf("waiting called %d times, want once", waits)
	}

	other := errors.New("disk on fire")
	tries := 0
	if _, err := Wait(context.Background(), time.Hour, func() (int, error) { tries++; return 0, other }, nil); err != other || tries != 1 {
		t.Errorf("other error: got %v after %d tries, want it at once", err, tries)
	}
}
