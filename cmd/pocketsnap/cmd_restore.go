package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/extract"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/restore"
)

type restoreOptions struct {
	target string
}

func restoreCommand() *command {
	var o restoreOptions
	return &command{
		name: "restore", group: "Restore",
		summary: "restore a snapshot into a new or empty directory (needs the identity)",
		usage:   "restore SNAPSHOT --target DIR",
		keys:    []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_IDENTITY"},
		examples: []string{
			"BACKUP_AGE_IDENTITY=~/pocket-key.txt pocketsnap restore db-20261129T040000Z --target /tmp/db",
			"pocketsnap restore rootfs-2026 --target ./rootfs   # a unique prefix of the name is enough",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.StringVar(&o.target, "target", "", "restore into `DIR` (must not exist or be empty)")
			return func(ctx context.Context, e *env, args []string) error { return runRestore(ctx, e, o, args) }
		},
	}
}

func runRestore(ctx context.Context, e *env, o restoreOptions, args []string) error {
	if len(args) != 1 {
		return usageErrorf("restore needs one SNAPSHOT (a name or a unique prefix; see 'pocketsnap snapshots')")
	}
	if o.target == "" {
		return usageErrorf("restore needs --target DIR")
	}
	s, err := e.openStore(false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := e.loadIdentity(s); err != nil {
		return err
	}
	lock, err := s.Lock(false)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	name, err := manifest.Resolve(s, args[0])
	if err != nil {
		return err
	}
	m, err := manifest.Load(s, name)
	if err != nil {
		return err
	}
	if m.Incomplete {
		e.ui.warnf("snapshot %s is incomplete: some files were not read in full when it was taken", m.Name)
	}
	root := os.Geteuid() == 0
	start := time.Now()
	st, err := restore.Snapshot(ctx, s, m, o.target, extract.Options{Owners: root, Devices: root})
	if err != nil {
		return fmt.Errorf("restore of %s failed, nothing was written to %s: %w", m.Name, o.target, err)
	}
	fmt.Fprintf(e.ui.stdout, "restored %s into %s: %d entries (%d files, %d dirs, %d symlinks, %d hardlinks), %s, verified, took %s\n",
		m.Name, o.target, st.Entries, st.Files, st.Dirs, st.Symlinks, st.Hardlinks, humanBytes(st.Bytes), time.Since(start).Round(time.Millisecond))
	return nil
}
