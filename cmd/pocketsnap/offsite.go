package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/offsite"
	"github.com/pocketsnap/pocketsnap/remote"
)

// bucket connects to the configured bucket.
func (e *env) bucket(opt remote.Options) (*remote.Bucket, error) {
	s, err := e.cfg.Offsite()
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

// openRemote opens the repository in the bucket for reading (see
// offsite.Open) and says which bucket, and its newest snapshots.
func (e *env) openRemote(ctx context.Context) (*chunkstore.Store, func(), error) {
	b, err := e.bucket(remote.Options{})
	if err != nil {
		return nil, nil, err
	}
	o, err := offsite.Open(ctx, b, offsite.OpenOptions{
		Local: e.cfg.Value("BACKUP_REPO"), Identities: e.identities,
		Warn: func(msg string) { e.ui.warnf("%s", msg) },
	})
	var nr *offsite.NoRepositoryError
	if errors.As(err, &nr) {
		return nil, nil, &hintError{err: err, hint: "run 'pocketsnap push' on the device first (or check S3_BUCKET and S3_PREFIX)"}
	}
	if err != nil {
		return nil, nil, err
	}
	e.ui.infof("reading from the bucket %s", b)
	for _, kind := range slices.Sorted(maps.Keys(o.Newest)) {
		e.ui.infof("newest %s snapshot in the bucket: %s", kind, o.Newest[kind])
	}
	return o.Store, o.Close, nil
}

// pushedIndex returns the device's record of what it pushed to the
// bucket's repository s (see offsite.PushedIndex).
func (e *env) pushedIndex(s *chunkstore.Store) (*chunkstore.Index, error) {
	return offsite.PushedIndex(e.cfg.Value("BACKUP_REPO"), s)
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
