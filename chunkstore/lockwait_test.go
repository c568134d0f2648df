package chunkstore

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

func TestLockWait(t *testing.T) {
	s := gcStore(t)
	held, err := s.Lock(true)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		held.Unlock()
	}()
	calls := 0
	l, err := s.LockWait(context.Background(), true, 10*time.Second, func(le *LockedError) {
		calls++
		if le.Holder.PID != os.Getpid() {
			t.Errorf("waiting for pid %d, want %d", le.Holder.PID, os.Getpid())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("waiting called %d times, want once", calls)
	}

	start := time.Now()
	_, err = s.LockWait(context.Background(), false, 150*time.Millisecond, nil)
	var le *LockedError
	if !errors.As(err, &le) || time.Since(start) < 150*time.Millisecond {
		t.Errorf("bounded wait: %v after %s", err, time.Since(start))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := s.LockWait(ctx, false, time.Hour, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled wait: %v", err)
	}
	l.Unlock()
}

// The holder named in the error is the exclusive holder, never one that
// has let go: after an exclusive lock is released, a shared holder is
// reported without a pid.
func TestLockedErrorNamesOnlyTheHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := lockRepo(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	r, err := lockRepo(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Unlock()
	_, err = lockRepo(dir, true)
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.PID != 0 {
		t.Fatalf("got %v, want a lock error without a holder", err)
	}
}
