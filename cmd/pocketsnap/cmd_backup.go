package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/config"
	"github.com/pocketsnap/pocketsnap/job"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/retention"
	"github.com/pocketsnap/pocketsnap/stage"
)

type backupOptions struct {
	source    string
	forceRead bool
	noRotate  bool
	compat    compatFlags
	// dbStopCmd and dbStartCmd override DB_STOP_CMD and DB_START_CMD.
	dbStopCmd, dbStartCmd string
}

func backupCommand() *command {
	var o backupOptions
	return &command{
		name: "backup", group: "Back up",
		summary: "snapshot a directory (db, rootfs, or any kind with --source)",
		usage:   "backup KIND [--source DIR] [flags]",
		keys:    []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_RECIPIENT", "DB_DIR", "ROOTFS_DIR", "PREFIX", "BACKUP_KEEP_DB", "BACKUP_KEEP_ROOTFS", "BACKUP_KEEP_<KIND>", "BACKUP_COMPAT", "DB_STOP_CMD", "DB_START_CMD", "DB_IMMUTABLE_GLOBS", "PACK_PADDING"},
		examples: []string{
			"pocketsnap backup db                      # DB_DIR, default ${ROOTFS_DIR}/var/lib/conduwuit/db",
			"pocketsnap backup rootfs                  # ROOTFS_DIR, the proot-distro Debian userland",
			"pocketsnap backup notes --source ~/notes  # any other kind needs --source",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.StringVar(&o.source, "source", "", "back up `DIR` (default: DB_DIR for db, ROOTFS_DIR for rootfs)")
			fs.BoolVar(&o.forceRead, "force-read", false, "read every file, ignoring the files cache")
			fs.BoolVar(&o.noRotate, "no-rotate", false, "do not apply retention afterwards (see 'pocketsnap rotate --help')")
			fs.StringVar(&o.dbStopCmd, "db-stop-cmd", "", "`CMD` that stops the database service before a db backup stages its directory (default DB_STOP_CMD)")
			fs.StringVar(&o.dbStartCmd, "db-start-cmd", "", "`CMD` that starts it again once staged, even after a failure (default DB_START_CMD)")
			o.compat.register(fs)
			return func(ctx context.Context, e *env, args []string) error { return runBackup(ctx, e, o, args) }
		},
	}
}

func runBackup(ctx context.Context, e *env, o backupOptions, args []string) error {
	if len(args) != 1 {
		return usageErrorf("backup needs exactly one KIND (db, rootfs, or a name of your own with --source)")
	}
	kind := args[0]
	if kind != "db" && (o.dbStopCmd != "" || o.dbStartCmd != "") {
		return usageErrorf("--db-stop-cmd and --db-start-cmd apply to backup db only")
	}
	_, err := e.backup(ctx, kind, o, func(res *job.BackupResult) {
		fmt.Fprintln(e.ui.stdout, backupLine(res))
		e.ui.summary(newBackupSummary(res))
	})
	return err
}

// backupLine says in one line what a backup saved.
func backupLine(res *job.BackupResult) string {
	sum := newBackupSummary(res)
	return fmt.Sprintf("snapshot %s saved: %d entries, %d files (%d read, %d unchanged from the files cache, %d empty), %s read, %d new blobs in %d packs, %s added to the repository, %s stream, took %s",
		sum.Snapshot, sum.Entries, sum.Files, sum.FilesRead, sum.FilesCached, sum.FilesEmpty, humanBytes(sum.BytesRead),
		sum.NewBlobs, sum.NewPacks, humanBytes(sum.AddedBytes), humanBytes(sum.StreamSize), res.Duration.Round(time.Millisecond))
}

// backup runs a backup of kind as the configuration and o say, reporting
// through e's reporter; saved is told of the snapshot once it is saved,
// before its classic archive is shown and retention runs. The
// command line and the daemon both run it.
func (e *env) backup(ctx context.Context, kind string, o backupOptions, saved func(*job.BackupResult)) (*job.BackupResult, error) {
	// First: the kind names configuration keys (<KIND>_STOP_CMD …).
	if err := manifest.CheckKind(kind); err != nil {
		return nil, usageErrorf("%v", err)
	}
	if o.source == "" {
		switch kind {
		case "db":
			o.source = e.cfg.Value("DB_DIR")
		case "rootfs":
			o.source = e.cfg.Value("ROOTFS_DIR")
		default:
			return nil, usageErrorf("kind %q has no default source: give --source DIR", kind)
		}
	}
	if err := job.CheckSource(kind, o.source); err != nil {
		return nil, err
	}
	opt := job.BackupOptions{
		Kind: kind, Source: o.source, ForceRead: o.forceRead, Tool: versionString(),
		Exclude: []string{e.cfg.Value("BACKUP_REPO"), e.cfg.Value("BACKUP_DIR")},
		HookLog: e.ui.stderr, HookTimeout: hookTimeout, LockWait: e.g.lockWait,
	}
	opt.Host, _ = os.Hostname()
	if !o.noRotate {
		rot, err := e.rotation(nil, retention.Policy{})
		if err != nil {
			return nil, err
		}
		opt.Rotation = &rot
	}
	var err error
	if opt.Service, err = e.service(kind, o); err != nil {
		return nil, err
	}
	if kind == "rootfs" {
		opt.DBDir = e.cfg.Value("DB_DIR")
		if opt.DBService, err = e.service("db", backupOptions{}); err != nil {
			return nil, err
		}
	}
	s, err := e.openStore(true)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if on, err := o.compat.enabled(e); err != nil {
		return nil, err
	} else if on {
		opt.Compat = &job.CompatOptions{BackupDir: e.cfg.Value("BACKUP_DIR"), PartSize: int64(o.compat.partSize)}
	}
	opt.Saved = func(res *job.BackupResult) error {
		saved(res)
		if res.Archive != nil {
			printArchive(e.ui.stdout, res.Archive)
		}
		return nil
	}
	return job.Backup(ctx, s, opt, e.reporter())
}

// service reads <KIND>_STOP_CMD, <KIND>_START_CMD (for db, the flags
// override them) and <KIND>_IMMUTABLE_GLOBS.
func (e *env) service(kind string, o backupOptions) (job.Service, error) {
	stopFlag, startFlag := o.dbStopCmd, o.dbStartCmd
	if kind != "db" {
		stopFlag, startFlag = "", ""
	}
	var svc job.Service
	var err error
	if svc.Stop, err = e.hook(config.KindKey("<KIND>_STOP_CMD", kind), stopFlag); err != nil {
		return svc, err
	}
	if svc.Start, err = e.hook(config.KindKey("<KIND>_START_CMD", kind), startFlag); err != nil {
		return svc, err
	}
	globs := config.KindKey("<KIND>_IMMUTABLE_GLOBS", kind)
	if svc.Immutable, err = stage.Matcher(e.cfg.Value(globs)); err != nil {
		return svc, fmt.Errorf("%s (%s): %w", globs, e.cfg.Source(globs), err)
	}
	return svc, nil
}

// newBackupSummary is the summary of a saved snapshot.
func newBackupSummary(res *job.BackupResult) backupSummary {
	m, d := res.Manifest, res.Details
	c := d.Counts
	return backupSummary{
		Snapshot: m.Name, Kind: res.Kind, Source: res.Source, Entries: c.Entries, Files: c.Files, FilesRead: c.Files - c.FilesCached - c.FilesEmpty,
		FilesCached: c.FilesCached, FilesEmpty: c.FilesEmpty, BytesRead: c.BytesRead, NewBlobs: c.NewBlobs, NewPacks: c.NewPacks,
		AddedBytes: m.AddedBytes, StreamSize: m.StreamSize, DurationMS: res.Duration.Milliseconds(),
		DowntimeMS: m.DowntimeMS, Incomplete: m.Incomplete, Warnings: len(d.Warnings), Changed: c.Changed,
		Skipped: res.Skipped,
	}
}

// backupSummary is the --json summary of a backup, printed once the
// snapshot is saved (retention and the classic archive follow).
type backupSummary struct {
	Snapshot    string `json:"snapshot"`
	Kind        string `json:"kind"`
	Source      string `json:"source"`
	Entries     int    `json:"entries"`
	Files       int    `json:"files"`
	FilesRead   int    `json:"files_read"`
	FilesCached int    `json:"files_cached"`
	FilesEmpty  int    `json:"files_empty"`
	BytesRead   int64  `json:"bytes_read"`
	NewBlobs    int    `json:"new_blobs"`
	NewPacks    int    `json:"new_packs"`
	AddedBytes  int64  `json:"added_bytes"`
	StreamSize  int64  `json:"stream_size"`
	DurationMS  int64  `json:"duration_ms"`
	DowntimeMS  int64  `json:"downtime_ms,omitempty"`
	Incomplete  bool   `json:"incomplete"`
	Warnings    int    `json:"warnings"`
	// Changed counts the entries replaced while the backup read them.
	Changed int `json:"changed,omitempty"`
	// Skipped lists the directories of the source never read: the
	// repository, BACKUP_DIR, pocketsnap's staging and aside directories.
	Skipped []string `json:"skipped,omitempty"`
}

// humanBytes formats a byte count with a binary unit: 512 B, 1.5 KiB,
// 15 MiB.
func humanBytes(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }
