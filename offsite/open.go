package offsite

import (
	"context"
	"fmt"
	"io/fs"

	"filippo.io/age"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/remote"
)

// NoRepositoryError is returned by [Open] for a bucket that holds no
// repository yet.
type NoRepositoryError struct{ Bucket string }

func (e *NoRepositoryError) Error() string {
	return fmt.Sprintf("the bucket %s holds no repository yet", e.Bucket)
}

// OpenOptions configure [Open].
type OpenOptions struct {
	// Local is the device's repository (BACKUP_REPO); it may not exist.
	Local string
	// Identities returns the age identities that open the secrets of a
	// repository that is not the device's; not called otherwise.
	Identities func() ([]age.Identity, error)
	// Warn, when set, is told of every sign of a rollback: a snapshot
	// the device pushed that the bucket no longer shows.
	Warn func(msg string)
}

// Opened is the bucket's repository, open for reading.
type Opened struct {
	*chunkstore.Store
	// Newest is the newest snapshot of each kind in the bucket.
	Newest map[string]string
	fsys   *remote.FS
}

// Close closes the repository and the bucket's file system.
func (o *Opened) Close() {
	o.Store.Close()
	o.fsys.Close()
}

// Open opens the repository in bucket b for reading. On the device that
// pushed it (opt.Local is the same repository), the device's secrets
// authenticate its manifests, without the identity, and the snapshots
// pushed from it that the bucket no longer shows are reported to
// opt.Warn; otherwise opt.Identities opens its secrets.
func Open(ctx context.Context, b *remote.Bucket, opt OpenOptions) (*Opened, error) {
	fsys, err := b.FS(ctx, 0)
	if err != nil {
		return nil, err
	}
	if _, ok := fsys.Listing()[chunkstore.ConfigName]; !ok {
		fsys.Close()
		return nil, &NoRepositoryError{Bucket: b.String()}
	}
	var keys *chunkstore.Keys
	if local, err := chunkstore.Open(opt.Local); err == nil {
		keys = deviceKeys(local, fsys, opt.Warn)
		local.Close()
	}
	var ids []age.Identity
	if keys == nil {
		if ids, err = opt.Identities(); err != nil {
			fsys.Close()
			return nil, err
		}
	}
	s, err := remote.Open(fsys, keys, ids)
	if err != nil {
		fsys.Close()
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	return &Opened{Store: s, Newest: Newest(SnapshotNames(fsys.Listing())), fsys: fsys}, nil
}

// deviceKeys returns the local repository's secrets when it is the
// bucket's repository, after warning about snapshots missing from the
// bucket since the last push; nil otherwise.
func deviceKeys(local *chunkstore.Store, fsys *remote.FS, warn func(string)) *chunkstore.Keys {
	raw, err := fs.ReadFile(fsys, chunkstore.ConfigName)
	if err != nil {
		return nil
	}
	cfg, err := chunkstore.ParseConfig(raw)
	if err != nil || cfg.ID != local.Config().ID {
		return nil
	}
	if rec, ok, err := LoadRecord(local); err == nil && ok && warn != nil {
		for _, w := range rec.Rollbacks(SnapshotNames(fsys.Listing())) {
			warn(fmt.Sprintf("POSSIBLE ROLLBACK: %s; snapshots were deleted from the bucket since", w))
		}
	}
	keys, err := local.Keys()
	if err != nil {
		return nil
	}
	return keys
}

// PushedIndex returns, for the bucket's repository s, the device's record
// of the packs it pushed there or adopted from it, which indexes their
// blobs without the identity; nil (read the packs' own tables, which
// needs the identity) when the device's repository at local is not that
// one, or does not open.
func PushedIndex(local string, s *chunkstore.Store) (*chunkstore.Index, error) {
	l, err := chunkstore.Open(local)
	if err != nil {
		return nil, nil
	}
	defer l.Close()
	if l.Config().ID != s.Config().ID {
		return nil, nil
	}
	return l.RemoteIndex()
}
