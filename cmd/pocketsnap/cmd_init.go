package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/offsite"
	"github.com/pocketsnap/pocketsnap/remote"
)

func initCommand() *command {
	return &command{
		name: "init", group: "Set up",
		summary: "create a repository",
		usage:   "init [flags]",
		keys:    []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_RECIPIENT", "BACKUP_AGE_RECIPIENTS_FILE", "BACKUP_AGE_IDENTITY", "BACKUP_REPO_FINGERPRINT"},
		examples: []string{
			"BACKUP_AGE_RECIPIENT=age1... pocketsnap init",
			"pocketsnap init --repo /sdcard/pocket/repo",
			"BACKUP_AGE_IDENTITY=~/key.txt pocketsnap init --from-remote   # a new phone takes over the bucket's repository",
		},
		setup: func(fs *pflag.FlagSet) runner {
			var fromRemote bool
			var expect string
			fs.BoolVar(&fromRemote, "from-remote", false, "adopt the repository in the bucket (${DATA_DIR}/secrets/offsite.env), decrypting its secrets with BACKUP_AGE_IDENTITY")
			fingerprintFlag(fs, &expect)
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usageErrorf("init takes no arguments")
				}
				if fromRemote {
					return runAdopt(ctx, e, expect)
				}
				if expect != "" {
					return usageErrorf("--expect-fingerprint goes with --from-remote")
				}
				return runInit(e)
			}
		},
	}
}

// runAdopt creates the device's repository from the bucket's.
func runAdopt(ctx context.Context, e *env, expect string) error {
	ids, err := e.identities()
	if err != nil {
		return err
	}
	b, err := e.bucket(remote.Options{})
	if err != nil {
		return err
	}
	dir := e.cfg.Value("BACKUP_REPO")
	s, err := remote.Adopt(ctx, b, dir, ids, func(src *chunkstore.Store) error { return e.checkFingerprint(src, expect) })
	if err != nil {
		return err
	}
	defer s.Close()
	if err := offsite.RecordBucket(ctx, s, b); err != nil {
		return fmt.Errorf("failed to record the bucket's snapshots: %w", err)
	}
	rix, err := s.RemoteIndex()
	if err != nil {
		return err
	}
	var size int64
	for _, p := range rix.Packs() {
		size += p.Size
	}
	fmt.Fprintf(e.ui.stdout, "adopted repository %s from %s into %s: %d packs (%s) stay in the bucket, and backups deduplicate against them\n",
		s.Config().ID, b, dir, len(rix.Packs()), humanBytes(size))
	fmt.Fprintf(e.ui.stdout, "device secrets: %s (mode 0600, never uploaded); restore older snapshots with --from=remote\n", s.Path(chunkstore.KeysName))
	return nil
}

func runInit(e *env) error {
	s, err := e.initStore(e.cfg.Value("BACKUP_REPO"))
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(e.ui.stdout, "repository %s (id %s, encoding %s)\n", s.Dir(), s.Config().ID, s.Config().Encoding)
	fmt.Fprintf(e.ui.stdout, "device secrets: %s (mode 0600, never uploaded)\n", s.Path(chunkstore.KeysName))
	if err := e.printFingerprint(s); err != nil {
		return err
	}
	keys, err := s.Keys()
	if err != nil {
		return err
	}
	e.ui.summary(struct {
		Repository    string   `json:"repository"`
		ID            string   `json:"id"`
		Fingerprint   string   `json:"fingerprint"`
		Encoding      string   `json:"encoding"`
		Recipients    []string `json:"recipients"`
		DeviceSecrets string   `json:"device_secrets"`
	}{s.Dir(), s.Config().ID, string(keys.Fingerprint()), s.Config().Encoding, s.Config().Recipients, s.Path(chunkstore.KeysName)})
	return nil
}
