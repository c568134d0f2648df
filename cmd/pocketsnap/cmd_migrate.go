package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/migrate"
)

func migrateCommand() *command {
	var to string
	return &command{
		name: "migrate", group: "Set up",
		summary: "copy every snapshot into a new repository encrypted to BACKUP_AGE_RECIPIENT, and verify each",
		usage: `migrate --to DIR

Creates DIR as a repository encrypted to the configured recipients, copies
every snapshot of the repository (--repo, BACKUP_REPO) into it under the
same name, then reads each one back with BACKUP_AGE_IDENTITY and checks
that its stream is byte for byte the one copied. The old repository is
left as it was: remove it only after "verified" (the last line says the
command), and point BACKUP_REPO at DIR. Needs the identity, to verify: run
it where the identity is, or set BACKUP_AGE_IDENTITY for this one command.`,
		keys: []string{"BACKUP_REPO", "BACKUP_AGE_RECIPIENT", "BACKUP_AGE_RECIPIENTS_FILE", "BACKUP_AGE_IDENTITY"},
		examples: []string{
			"BACKUP_AGE_IDENTITY=~/key.txt pocketsnap migrate --to ~/.local/share/pocketsnap/backups/repo.age",
			"pocketsnap migrate --repo /sdcard/pocket/repo --to /sdcard/pocket/repo-encrypted",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.StringVar(&to, "to", "", "create the new repository in `DIR` (it must not exist)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 || to == "" {
					return usageErrorf("migrate takes --to DIR and no arguments")
				}
				return runMigrate(ctx, e, to)
			}
		},
	}
}

// migrateSummary is the --json summary of "pocketsnap migrate".
type migrateSummary struct {
	From      string   `json:"from"`
	To        string   `json:"to"`
	Snapshots []string `json:"snapshots"`
	Verified  bool     `json:"verified"`
}

// runMigrate is issue 18.13's way out of a plaintext repository.
func runMigrate(ctx context.Context, e *env, to string) error {
	recs, err := e.recipients()
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return usageErrorf("migrate makes an encrypted repository: set BACKUP_AGE_RECIPIENT")
	}
	ids, err := e.identities()
	if err != nil {
		return fmt.Errorf("migrate verifies every snapshot by reading it back, which needs the identity: %w", err)
	}
	from, release, err := e.openLocked(ctx, false)
	if err != nil {
		return err
	}
	defer release()
	if err := e.loadIdentity(from); err != nil {
		return err
	}
	dst, err := chunkstore.Init(to, recs)
	if err != nil {
		return fmt.Errorf("failed to create repository in %s: %w", to, err)
	}
	defer dst.Close()
	lock, err := e.lock(ctx, dst, true)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	e.ui.infof("created repository %s, encrypted to %d age recipient(s)", to, len(recs))
	if err := e.printFingerprint(dst); err != nil {
		return err
	}
	sum := migrateSummary{From: from.Dir(), To: to, Snapshots: []string{}}
	sums, err := migrate.Copy(ctx, from, dst, func(name string) {
		e.ui.infof("copied %s", name)
		sum.Snapshots = append(sum.Snapshots, name)
	})
	if err != nil {
		return &hintError{err: err, hint: fmt.Sprintf("%s is left as it was; remove the incomplete %s (rm -rf %s) and run migrate again", from.Dir(), to, to)}
	}
	dst.SetIdentities(ids)
	if err := migrate.Verify(ctx, dst, sums); err != nil {
		return &hintError{err: fmt.Errorf("not verified: %w", err), hint: fmt.Sprintf("keep %s; remove %s (rm -rf %s) and run migrate again", from.Dir(), to, to)}
	}
	sum.Verified = true
	e.ui.infof("verified %d snapshot(s): each read back from %s with BACKUP_AGE_IDENTITY is byte for byte the stream copied", len(sums), to)
	e.ui.infof("the old repository may now be removed (rm -rf %s); set BACKUP_REPO=%s", from.Dir(), to)
	e.ui.summary(sum)
	return nil
}
