package compat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// TempPrefix begins the name of every temporary file a [Writer] creates.
// The Writer holds an exclusive flock(2) on the file for as long as it
// exists; the kernel drops it when the process dies, so an unlocked one
// was left behind by a killed writer.
const TempPrefix = "pocketsnap-archive.tmp-"

// createTemp creates and locks a temporary file in dir.
func createTemp(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("failed to create a temporary file in %s: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("failed to lock %s: %w", f.Name(), err)
	}
	return f, nil
}

// RemoveStale removes the temporary files in dir that no live Writer
// holds (those of writers that were killed) and returns their paths.
// Every Writer calls it on its directory when it starts.
func RemoveStale(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to list %s: %w", dir, err)
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), TempPrefix) || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		ok, err := removeIfUnlocked(p)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			removed = append(removed, p)
		}
	}
	return removed, errors.Join(errs...)
}

// removeIfUnlocked removes the file at p unless a writer holds its lock.
// A file it cannot open is not its to judge, and is left alone.
func removeIfUnlocked(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return false, nil // in use (EWOULDBLOCK), or not lockable: leave it
	}
	// Removed while this lock is held: no writer can be using it.
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("failed to remove stale temporary file %s: %w", p, err)
	}
	return true, nil
}
