package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
)

func verifyArchiveCommand() *command {
	return &command{
		name: "verify-archive", group: "Inspect and verify",
		summary: "check a classic .tar.zst[.age] (or its parts) against its .sha256 sidecar",
		usage:   "verify-archive PATH",
		keys:    []string{"BACKUP_AGE_IDENTITY"},
		examples: []string{
			"pocketsnap verify-archive ~/backups/db/db-20261129T040000Z.tar.zst.age   # the sidecar only",
			"BACKUP_AGE_IDENTITY=~/key.txt pocketsnap verify-archive db-20261129T040000Z.tar.zst.age   # also decrypt, zstd and tar",
			"pocketsnap verify-archive rootfs-20261101T040000Z.tar.zst.part-000   # every part, and the whole",
		},
		setup: func(fs *pflag.FlagSet) runner { return runVerifyArchive },
	}
}

func runVerifyArchive(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usageErrorf("verify-archive needs one PATH: an archive, one of its parts, or its sidecar")
	}
	var ids []age.Identity
	if e.cfg.Value("BACKUP_AGE_IDENTITY") != "" {
		var err error
		if ids, err = e.identities(); err != nil {
			return err
		}
	}
	rep, err := compat.Verify(ctx, args[0], ids)
	var nm *age.NoIdentityMatchError
	if errors.As(err, &nm) {
		return fmt.Errorf("%s is not encrypted to BACKUP_AGE_IDENTITY: %w", args[0], chunkstore.ErrWrongIdentity)
	}
	if err != nil {
		return err
	}
	what := "1 file"
	if n := len(rep.Files); n > 1 {
		what = fmt.Sprintf("%d parts", n)
	}
	fmt.Fprintf(e.ui.stdout, "%s: OK: %s, %s, SHA-256 matches %s", args[0], what, humanBytes(rep.Size), strings.Join(rep.Sidecars, " and "))
	switch {
	case rep.Content && rep.Encrypted:
		fmt.Fprintf(e.ui.stdout, "; decrypted, zstd stream valid, tar stream well-formed (%d entries)\n", rep.Entries)
	case rep.Content:
		fmt.Fprintf(e.ui.stdout, "; zstd stream valid, tar stream well-formed (%d entries)\n", rep.Entries)
	default:
		fmt.Fprintln(e.ui.stdout, "; not decrypted: set BACKUP_AGE_IDENTITY to check the contents too")
	}
	e.ui.summary(archiveSummary{Path: args[0], Files: rep.Files, Sidecars: rep.Sidecars, Size: rep.Size,
		ContentChecked: rep.Content, Encrypted: rep.Encrypted, Entries: rep.Entries})
	return nil
}
