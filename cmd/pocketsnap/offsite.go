package main

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"filippo.io/age"
	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/offsite"
	"github.com/pocketsnap/pocketsnap/remote"
)

// offsiteSettings reads the bucket's settings from the secrets file,
// which must not be readable by anyone but its owner.
func (e *env) offsiteSettings() (remote.Settings, error) {
	path := e.cfg.SecretsFile()
	sf, err := os.Open(path)
	if err != nil {
		return remote.Settings{}, &hintError{
			err:  fmt.Errorf("offsite secrets file: %w", err),
			hint: "create it with S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY (and S3_PREFIX) and chmod 600 it",
		}
	}
	err = privateFile(sf, "offsite secrets file", path,
		"keep DATA_DIR (and so "+filepath.Dir(path)+") on internal storage, e.g. in Termux's $HOME, and put only BACKUP_DIR on the SD card; then chmod 600 the file")
	sf.Close()
	if err != nil {
		return remote.Settings{}, err
	}
	if err := e.cfg.SecretsErr(); err != nil {
		return remote.Settings{}, err
	}
	f := e.cfg
	return remote.Settings{
		Endpoint:        f.Value("S3_ENDPOINT"),
		Bucket:          f.Value("S3_BUCKET"),
		Region:          f.Value("S3_REGION"),
		AccessKeyID:     f.Value("S3_ACCESS_KEY_ID"),
		SecretAccessKey: f.Value("S3_SECRET_ACCESS_KEY"),
		Prefix:          f.Value("S3_PREFIX"),
		CAFile:          f.Value("S3_CA_FILE"),
		DNSServers:      f.Value("S3_DNS_SERVERS"),
	}, nil
}

// bucket connects to the configured bucket.
func (e *env) bucket(opt remote.Options) (*remote.Bucket, error) {
	s, err := e.offsiteSettings()
	if err != nil {
		return nil, err
	}
	opt.AllowInsecureLoopback = e.g.insecureLoopback
	b, err := remote.Dial(s, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.cfg.SecretsFile(), err)
	}
	return b, nil
}

// openRemote opens the repository in the bucket for reading. On the
// device that pushed it, the device's secrets authenticate its
// manifests, and a bucket whose newest snapshots are older than the ones
// the device last pushed is reported loudly.
func (e *env) openRemote(ctx context.Context) (*chunkstore.Store, func(), error) {
	b, err := e.bucket(remote.Options{})
	if err != nil {
		return nil, nil, err
	}
	fsys, err := b.FS(ctx, 0)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := fsys.Listing()[chunkstore.ConfigName]; !ok {
		fsys.Close()
		return nil, nil, &hintError{
			err:  fmt.Errorf("the bucket %s holds no repository yet", b),
			hint: "run 'pocketsnap push' on the device first (or check S3_BUCKET and S3_PREFIX)",
		}
	}
	var keys *chunkstore.Keys
	if local, err := chunkstore.Open(e.cfg.Value("BACKUP_REPO")); err == nil {
		keys = e.deviceKeys(local, fsys)
		local.Close()
	}
	var ids []age.Identity
	if keys == nil {
		// Not this device's repository: the identity opens its secrets.
		if ids, err = e.identities(); err != nil {
			fsys.Close()
			return nil, nil, err
		}
	}
	s, err := remote.Open(fsys, keys, ids)
	if err != nil {
		fsys.Close()
		return nil, nil, fmt.Errorf("%s: %w", b, err)
	}
	e.ui.infof("reading from the bucket %s", b)
	newest := offsite.Newest(offsite.SnapshotNames(fsys.Listing()))
	for _, kind := range slices.Sorted(maps.Keys(newest)) {
		e.ui.infof("newest %s snapshot in the bucket: %s", kind, newest[kind])
	}
	return s, func() { s.Close(); fsys.Close() }, nil
}

// deviceKeys returns the local repository's secrets when it is the
// bucket's repository, after warning about snapshots missing from the
// bucket since the last push.
func (e *env) deviceKeys(local *chunkstore.Store, fsys *remote.FS) *chunkstore.Keys {
	raw, err := fs.ReadFile(fsys, chunkstore.ConfigName)
	if err != nil {
		return nil
	}
	cfg, err := chunkstore.ParseConfig(raw)
	if err != nil || cfg.ID != local.Config().ID {
		return nil
	}
	if rec, ok, err := offsite.LoadRecord(local); err == nil && ok {
		for _, w := range rec.Rollbacks(offsite.SnapshotNames(fsys.Listing())) {
			e.ui.warnf("POSSIBLE ROLLBACK: %s; snapshots were deleted from the bucket since", w)
		}
	}
	keys, err := local.Keys()
	if err != nil {
		return nil
	}
	return keys
}

// pushedIndex returns, for the bucket's repository s, the device's record
// of the packs it pushed there or adopted from it, which indexes their
// blobs without the identity; nil (read the packs' own tables, which
// needs the identity) when this device's repository is not that one.
func (e *env) pushedIndex(s *chunkstore.Store) (*chunkstore.Index, error) {
	local, err := chunkstore.Open(e.cfg.Value("BACKUP_REPO"))
	if err != nil {
		return nil, nil
	}
	defer local.Close()
	if local.Config().ID != s.Config().ID {
		return nil, nil
	}
	return local.RemoteIndex()
}

// repoSource is the value of --from: where a reader finds the repository.
type repoSource string

func (r *repoSource) Set(s string) error {
	if s != "local" && s != "remote" {
		return fmt.Errorf("%q is neither local nor remote", s)
	}
	*r = repoSource(s)
	return nil
}

func (r *repoSource) String() string { return string(*r) }
func (r *repoSource) Type() string   { return "where" }

// fromFlag registers --from.
func fromFlag(fs *pflag.FlagSet, r *repoSource) {
	*r = "local"
	fs.Var(r, "from", "read the repository `WHERE`: local (this device's) or remote (the bucket in ${DATA_DIR}/secrets/offsite.env; needs BACKUP_AGE_IDENTITY)")
}
