package job

import (
	"errors"
	"os"
	"path"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/prune"
)

// LastSuccessIn returns when a scheduled job last succeeded, as the
// repository at dir records it (see LastSuccess); never, when there is no
// repository there. The daemon asks it before each run.
func LastSuccessIn(dir, name string) (time.Time, error) {
	s, err := chunkstore.Open(dir)
	if errors.Is(err, chunkstore.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	defer s.Close()
	return LastSuccess(s, name)
}

// LastSuccess returns when a scheduled job last succeeded, as s records
// it: for a backup, the time of the newest complete snapshot of its kind
// (one taken by hand counts); for "retention", the last rotation's. It
// takes no lock, so that it never waits for a running backup; a snapshot
// deleted meanwhile is passed over. The zero time is never.
func LastSuccess(s *chunkstore.Store, name string) (time.Time, error) {
	if name == "retention" {
		return prune.LastRun(s)
	}
	names, err := manifest.Names(s)
	if err != nil {
		return time.Time{}, err
	}
	for i := len(names) - 1; i >= 0; i-- {
		if k, _, _ := manifest.ParseName(names[i]); k != name {
			continue
		}
		m, err := manifest.Load(s, names[i])
		if err != nil {
			if _, serr := os.Stat(s.Path(path.Join(manifest.Dir, names[i]))); os.IsNotExist(serr) {
				continue
			}
			return time.Time{}, err
		}
		if !m.Incomplete {
			return m.Time, nil
		}
	}
	return time.Time{}, nil
}
