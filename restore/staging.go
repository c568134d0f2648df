package restore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pocketsnap/pocketsnap/internal/flock"
)

// A staging directory <target>.restoring-<UTC> holds the lock file, on
// which the restore that owns it holds an exclusive flock(2) for as long
// as it runs, and the tree being extracted.
const (
	stagingLock = "lock"
	stagingTree = "tree"
)

// Staging is a staging directory owned by this process.
type Staging struct {
	dir  string
	lock *flock.Lock
}

// newStaging creates the staging directory dir and locks it. Another
// restore that finds it before it is locked may take it for stale and
// remove it: then the lock file cannot be created in it, or its lock is
// taken, and this fails.
func newStaging(dir string) (*Staging, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create staging directory: %w", err)
	}
	lock, err := flock.TakeIn(filepath.Join(dir, stagingLock), true)
	if err == nil {
		err = os.Mkdir(filepath.Join(dir, stagingTree), 0o700)
	}
	if err != nil {
		lock.Unlock()
		return nil, errors.Join(fmt.Errorf("failed to create staging directory: %w", err), removeAll(dir))
	}
	return &Staging{dir: dir, lock: lock}, nil
}

// Dir returns the staging directory.
func (s *Staging) Dir() string { return s.dir }

// Tree returns the directory the tree is extracted into.
func (s *Staging) Tree() string { return filepath.Join(s.dir, stagingTree) }

// Remove deletes the staging directory with all it holds, then lets go of
// its lock.
func (s *Staging) Remove() error {
	err := removeAll(s.dir)
	s.lock.Unlock()
	return err
}

// Done removes the staging directory once its tree has been moved into
// place, now found at dir (a nested one moves with its parent's tree),
// and lets go of its lock.
func (s *Staging) Done(dir string) error {
	s.dir = dir
	return s.Remove()
}

// CleanStaging removes the staging directories of target that no live
// restore owns (left by a restore that was killed), and says so on log.
// A staging directory whose lock another process holds is left alone.
func CleanStaging(target string, log io.Writer) error {
	dirs, err := siblings(target, StagingSuffix)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		lock, err := flock.TakeIn(filepath.Join(d, stagingLock), true)
		var he *flock.HeldError
		switch {
		case errors.As(err, &he):
			fmt.Fprintf(log, "leaving %s alone: a restore still running owns it (%v)\n", d, err)
			continue
		case errors.Is(err, os.ErrNotExist):
			continue // removed meanwhile by another restore
		case err != nil:
			return fmt.Errorf("staging directory %s: %w", d, err)
		}
		fmt.Fprintf(log, "removing %s: left by a restore that was interrupted\n", d)
		err = removeAll(d)
		lock.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}
