package job

import (
	"os"
	"path"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/prune"
)

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
