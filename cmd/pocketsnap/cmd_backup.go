package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/pipeline"
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
	if o.source == "" {
		switch kind {
		case "db":
			o.source = e.cfg.Value("DB_DIR")
		case "rootfs":
			o.source = e.cfg.Value("ROOTFS_DIR")
		default:
			return usageErrorf("kind %q has no default source: give --source DIR", kind)
		}
	}
	if fi, err := os.Stat(o.source); err != nil || !fi.IsDir() {
		if err == nil {
			err = fmt.Errorf("not a directory")
		}
		return fmt.Errorf("source of %s: %s: %w", kind, o.source, err)
	}
	rot, err := e.autoRotation(o.noRotate)
	if err != nil {
		return err
	}
	s, err := e.openStore(true)
	if err != nil {
		return err
	}
	defer s.Close()
	lock, err := e.lock(ctx, s, true)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	arc, err := e.startCompat(s, kind, o.compat)
	if err != nil {
		return err
	}
	defer arc.abort()

	host, _ := os.Hostname()
	prog := new(pipeline.Progress)
	opt := pipeline.Options{
		Kind: kind, Source: o.source, ForceRead: o.forceRead, Host: host, Tool: versionString(),
		Frames:   arc.frames(),
		Progress: prog,
		Warn:     func(path string, err error) { e.ui.warnf("%s: %v", path, err) },
	}
	if kind == "db" {
		opt.Root = "db" // as the scripts' archives: tar -xf in DB_DIR's parent
	}
	cleanup, err := e.prepareStaged(ctx, kind, o, &opt)
	if err != nil {
		return fmt.Errorf("backup of %s failed: %w", o.source, err)
	}
	defer cleanup()
	pr := e.ui.startProgress("backup "+kind, "entries", 0, prog)
	res, err := pipeline.Backup(ctx, s, opt)
	if err != nil {
		pr.stop()
		return fmt.Errorf("backup of %s failed: %w", o.source, err)
	}
	m, d := res.Manifest, res.Details
	c := d.Counts
	read := c.Files - c.FilesCached - c.FilesEmpty
	pr.done(backupSummary{
		Snapshot: m.Name, Kind: kind, Source: o.source, Entries: c.Entries, Files: c.Files, FilesRead: read,
		FilesCached: c.FilesCached, FilesEmpty: c.FilesEmpty, BytesRead: c.BytesRead, NewBlobs: c.NewBlobs, NewPacks: c.NewPacks,
		AddedBytes: m.AddedBytes, StreamSize: m.StreamSize, DurationMS: res.Duration.Milliseconds(),
		DowntimeMS: m.DowntimeMS, Incomplete: m.Incomplete, Warnings: len(d.Warnings), Changed: c.Changed,
		Skipped: res.Skipped,
	}, "snapshot %s saved: %d entries, %d files (%d read, %d unchanged from the files cache, %d empty), %s read, %d new blobs in %d packs, %s added to the repository, %s stream, took %s",
		m.Name, c.Entries, c.Files, read, c.FilesCached, c.FilesEmpty, humanBytes(c.BytesRead),
		c.NewBlobs, c.NewPacks, humanBytes(m.AddedBytes), humanBytes(m.StreamSize), res.Duration.Round(time.Millisecond))
	if len(res.Skipped) > 0 {
		e.ui.infof("not read, as pocketsnap's own or the repository's: %s", strings.Join(res.Skipped, ", "))
	}
	// Retention runs even when the classic archive failed: the snapshot is
	// saved, and the old scripts rotated after every backup.
	err = arc.commit(e, m.Name)
	if rerr := rot.afterBackup(ctx, s); rerr != nil {
		err = errors.Join(err, fmt.Errorf("snapshot %s saved, but %w", m.Name, rerr))
	}
	if err != nil {
		return err
	}
	if c.Changed > 0 {
		e.ui.warnf("%d entries were replaced by another file while the backup read them and were left out (listed above); the next backup takes them as they are then", c.Changed)
	}
	if m.Incomplete {
		e.ui.warnf("snapshot %s is incomplete: %d entries could not be read in full (listed above)", m.Name, len(d.Warnings))
		return errIncomplete
	}
	return nil
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
