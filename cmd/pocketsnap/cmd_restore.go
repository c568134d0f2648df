package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/extract"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/restore"
)

// confirmPhrase must be given to let a restore change the live system.
const confirmPhrase = "ERASE-AND-RESTORE"

type restoreOptions struct {
	target   string
	at       string
	rootfs   string
	db       string
	only     string
	confirm  string
	rollback bool
	stopped  bool
	stopCmd  string
	startCmd string
	archive  string
	noVerify bool
	devices  bool
	from     repoSource
	include  []string
	expect   string
}

func restoreCommand() *command {
	var o restoreOptions
	return &command{
		name: "restore", group: "Restore",
		summary: "restore the system (plan first) or one snapshot into a directory",
		usage: "restore [--at TIME] [--rootfs NAME] [--db NAME] [--only KIND] [--confirm=" + confirmPhrase + "]\n" +
			"       pocketsnap restore SNAPSHOT --target DIR [--include PATH]...\n" +
			"       pocketsnap restore --archive FILE [--target DIR | --confirm=" + confirmPhrase + "]\n" +
			"       pocketsnap restore --rollback --confirm=" + confirmPhrase + `

Snapshots are read from this device's repository, or with --from=remote
straight from the bucket (a lost phone).`,
		keys: []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_IDENTITY", "ROOTFS_DIR", "DB_DIR", "PREFIX", "STACK_STOP_CMD", "STACK_START_CMD", fingerprintKey},
		examples: []string{
			"pocketsnap restore --only db --at 3d           # print the plan: the db as it was 3 days ago; nothing changes",
			"pocketsnap restore --at 2026-11-28 --confirm=" + confirmPhrase + "   # act: rootfs and db of that day (undo: --rollback)",
			"pocketsnap restore rootfs-2026 --target /tmp/r --include etc/ssh --from=remote   # some files from the bucket, beside the live system",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.StringVar(&o.target, "target", "", "restore into `DIR` (must not exist or be empty) instead of the live system")
			fs.StringVar(&o.at, "at", "", "newest snapshots taken at or before `TIME` (20261129T040000Z, RFC 3339, 2026-11-29, 36h, 3d)")
			fs.StringVar(&o.rootfs, "rootfs", "", "rootfs snapshot `NAME` (or unique prefix)")
			fs.StringVar(&o.db, "db", "", "db snapshot `NAME` (or unique prefix)")
			fs.StringVar(&o.only, "only", "", "restore only `KIND` (db or rootfs)")
			fs.StringVar(&o.confirm, "confirm", "", "act: `PHRASE` must be "+confirmPhrase+" (without it, only the plan is printed)")
			fs.BoolVar(&o.rollback, "rollback", false, "swap the newest directory moved aside by a restore back into place")
			fs.StringVar(&o.stopCmd, "stop-cmd", "", "`CMD` that stops the services (default STACK_STOP_CMD)")
			fs.StringVar(&o.startCmd, "start-cmd", "", "`CMD` that starts them again (default STACK_START_CMD)")
			fs.BoolVar(&o.stopped, stackStoppedFlag, false, "with no stop command configured: the homeserver is already stopped, act without stopping it")
			fs.StringVar(&o.archive, "archive", "", "restore a classic `FILE` <kind>-<UTC>.tar.zst[.age] instead of a snapshot")
			fs.BoolVar(&o.noVerify, "no-verify", false, "with --archive: accept an archive without a matching .sha256 sidecar")
			fs.BoolVar(&o.devices, "allow-devices", false, "with --archive: create its device nodes wherever they are and whatever their mode (else only below dev/, not writable by group or others)")
			fromFlag(fs, &o.from)
			fs.StringArrayVar(&o.include, "include", nil, "with SNAPSHOT: restore only `PATH` (relative to the snapshot's root; a directory with all below it, or a glob), and the directories above it; repeatable")
			fingerprintFlag(fs, &o.expect)
			return func(ctx context.Context, e *env, args []string) error { return runRestore(ctx, e, o, args) }
		},
	}
}

func runRestore(ctx context.Context, e *env, o restoreOptions, args []string) error {
	e.fromRemote = o.from == "remote"
	if o.confirm != "" && o.confirm != confirmPhrase {
		return usageErrorf("--confirm takes exactly the phrase %s", confirmPhrase)
	}
	if o.only != "" && o.only != "db" && o.only != "rootfs" {
		return usageErrorf("--only takes db or rootfs, not %q", o.only)
	}
	switch {
	case len(args) > 1:
		return usageErrorf("restore takes at most one SNAPSHOT")
	case len(args) == 1:
		if o.target == "" {
			return usageErrorf("restoring one snapshot needs --target DIR (to restore the live system, use --rootfs/--db and --confirm)")
		}
		return restoreOne(ctx, e, args[0], o.target, o.include, o.expect)
	case len(o.include) > 0:
		return usageErrorf("--include goes with a SNAPSHOT and --target")
	case o.target != "" && o.archive == "":
		return usageErrorf("--target goes with a SNAPSHOT or --archive")
	case o.rollback:
		return rollback(ctx, e, o)
	case o.archive != "":
		return restoreArchive(ctx, e, o)
	}
	return restoreSystem(ctx, e, o)
}

// openForReading opens the repository under the shared lock with the
// identity loaded and checked, and its fingerprint printed and checked
// against expect (see checkFingerprint), so that a missing or wrong
// identity or a substituted repository fails before anything else.
func openForReading(ctx context.Context, e *env, expect string) (*chunkstore.Store, func(), error) {
	s, release, err := e.openLocked(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	if err := e.loadIdentity(s); err != nil {
		release()
		return nil, nil, err
	}
	if err := e.checkFingerprint(s, expect); err != nil {
		release()
		return nil, nil, err
	}
	return s, release, nil
}

func extractOptions() extract.Options {
	root := os.Geteuid() == 0
	return extract.Options{Owners: root, Devices: root}
}

func restoreOne(ctx context.Context, e *env, ref, target string, include []string, expect string) error {
	s, release, err := openForReading(ctx, e, expect)
	if err != nil {
		return err
	}
	defer release()
	name, err := manifest.Resolve(s, ref)
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
	start := time.Now()
	src := restore.Source{Store: s, Manifest: m}
	var partial *restore.Partial
	if len(include) > 0 {
		if partial, err = restore.StartPartial(ctx, s, m, include); err != nil {
			return includeError(err)
		}
		defer partial.Close()
		src = partial.Source()
	} else {
		// The stream is all a full restore reads: once the details are
		// checked, the file index can go (Issue 20: peak RSS).
		if _, err := m.Open(s.Codec()); err != nil {
			return fmt.Errorf("snapshot %s: %w", m.Name, err)
		}
		m.DropFileIndex()
	}
	src.Progress = new(pipeline.Progress)
	total := m.StreamSize
	if partial != nil {
		total = 0 // the selection's size is not known before it is read
	}
	pr := e.ui.startProgress("restore "+m.Name, "", total, src.Progress)
	st, err := restore.Into(ctx, src, target, extractOptions(), e.ui.stderr)
	pr.stop()
	if err != nil {
		return fmt.Errorf("restore of %s failed, nothing was written to %s: %w", m.Name, target, err)
	}
	fmt.Fprintf(e.ui.stdout, "restored %s into %s: %d entries (%d files, %d dirs, %d symlinks, %d hardlinks), %s, verified, took %s\n",
		m.Name, target, st.Entries, st.Files, st.Dirs, st.Symlinks, st.Hardlinks, humanBytes(st.Bytes), time.Since(start).Round(time.Millisecond))
	if partial != nil {
		reportPartial(e.ui.stdout, m, partial)
	}
	sum := newRestoreSummary(target, st, start)
	sum.Snapshot = m.Name
	e.ui.summary(sum)
	return nil
}
