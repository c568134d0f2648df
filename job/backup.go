package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/prune"
)

// BackupOptions configure a backup.
type BackupOptions struct {
	// Kind is the snapshot's kind: db, rootfs, or a name of one's own.
	Kind string
	// Source is the directory backed up.
	Source string
	// ForceRead reads every file, ignoring the files cache.
	ForceRead bool
	// Service is the service writing Source: stopped while Source is
	// staged (or, for rootfs, read). Zero for none.
	Service Service
	// DBDir and DBService are the database's directory and service, for
	// a rootfs backup: a database inside the rootfs is staged the db
	// kind's way, or left out when it cannot be.
	DBDir     string
	DBService Service
	// HookLog takes the service commands' output, one line each.
	HookLog io.Writer
	// HookTimeout bounds each service command.
	HookTimeout time.Duration
	// Exclude lists directories never read (the repository, BACKUP_DIR).
	Exclude []string
	// Rotation, when set, is applied under the backup's lock once the
	// snapshot is saved.
	Rotation *prune.Options
	// Compat, when set, asks for the snapshot's classic archive, written
	// in the same pass and committed once the snapshot is saved.
	Compat *CompatOptions
	// Saved, when set, is called once the snapshot is saved and its
	// classic archive committed or failed, before the rotation: the front
	// end shows the result. Its error fails the backup, after the
	// rotation ran.
	Saved func(*BackupResult) error
	// Host and Tool are recorded in the manifest.
	Host, Tool string
	// LockWait is how long to wait for another process that holds the
	// repository.
	LockWait time.Duration
}

// BackupResult is a saved snapshot: the pipeline's result, with the
// source's directories never read. Once [Backup] has called
// BackupOptions.Saved, its manifest no longer holds the blob list, the
// stream or the file index (see [BackupResult.release]).
type BackupResult struct {
	*pipeline.Result
	Kind, Source string
	// Archive is the classic archive written, if asked for and written.
	Archive *compat.Written
}

// release lets go of the saved snapshot's blob list, stream and file
// index, which only what saved it needed: the rotation that follows
// loads the snapshots it keeps from the repository, and would otherwise
// hold this one's blobs twice (Issue 20: peak RSS at the end of a
// backup). The name, sizes and counts stay.
func (r *BackupResult) release() {
	r.Manifest.Blobs = nil
	r.Manifest.DropFileIndex()
	r.Details.Stream = nil
	r.Details.SetFileIndex(nil)
}

// Backup snapshots opt.Source into s under its exclusive lock, with the
// service stopped and its directory staged as opt says, then applies
// opt.Rotation. A classic archive that fails fails the backup once the
// rotation ran; the snapshot stays saved. A snapshot saved with entries not read in full returns
// its result and ErrIncomplete.
func Backup(ctx context.Context, s *chunkstore.Store, opt BackupOptions, r Reporter) (*BackupResult, error) {
	if err := CheckSource(opt.Kind, opt.Source); err != nil {
		return nil, err
	}
	l, err := lock(ctx, s, opt.LockWait, r)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	arc, err := startCompat(s, opt.Kind, opt.Compat)
	if err != nil {
		return nil, err
	}
	defer arc.abort()
	prog := new(pipeline.Progress)
	popt := pipeline.Options{
		Kind: opt.Kind, Source: opt.Source, ForceRead: opt.ForceRead, Host: opt.Host, Tool: opt.Tool,
		Frames: arc.frames(), Progress: prog, Exclude: opt.Exclude, SkipName: ownDir,
		Warn: func(path string, err error) { reportf(r, Warning, "%s: %v", path, err) },
	}
	if opt.Kind == "db" {
		popt.Root = "db" // as the scripts' archives: tar -xf in DB_DIR's parent
	}
	g := &stager{r: r, log: opt.HookLog, timeout: opt.HookTimeout}
	if g.log == nil {
		g.log = io.Discard
	}
	cleanup, err := g.prepare(ctx, &opt, &popt)
	if err != nil {
		return nil, fmt.Errorf("backup of %s failed: %w", opt.Source, err)
	}
	defer cleanup()
	stop := r.Progress("backup "+opt.Kind, "entries", 0, prog)
	pres, err := pipeline.Backup(ctx, s, popt)
	stop()
	if err != nil {
		return nil, fmt.Errorf("backup of %s failed: %w", opt.Source, err)
	}
	res := &BackupResult{Result: pres, Kind: opt.Kind, Source: opt.Source}
	m, d := pres.Manifest, pres.Details
	res.Archive, err = arc.commit(m.Name)
	if opt.Saved != nil {
		err = errors.Join(err, opt.Saved(res))
	}
	res.release()
	if len(pres.Skipped) > 0 {
		reportf(r, Info, "not read, as pocketsnap's own or the repository's: %s", strings.Join(pres.Skipped, ", "))
	}
	// Retention runs even when the classic archive failed: the snapshot is
	// saved, and the old scripts rotated after every backup.
	if opt.Rotation != nil {
		if rerr := rotateAfterBackup(ctx, s, *opt.Rotation, r); rerr != nil {
			err = errors.Join(err, fmt.Errorf("snapshot %s saved, but %w", m.Name, rerr))
		}
	}
	if err != nil {
		return res, err
	}
	if c := d.Counts.Changed; c > 0 {
		reportf(r, Warning, "%d entries were replaced by another file while the backup read them and were left out (listed above); the next backup takes them as they are then", c)
	}
	if m.Incomplete {
		reportf(r, Warning, "snapshot %s is incomplete: %d entries could not be read in full (listed above)", m.Name, len(d.Warnings))
		return res, ErrIncomplete
	}
	return res, nil
}

// CheckSource fails unless source, the directory a backup of kind reads,
// is one. A front end checks it before it opens (or creates) the
// repository; Backup checks it again.
func CheckSource(kind, source string) error {
	if fi, err := os.Stat(source); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return fmt.Errorf("source of %s: %s: %w", kind, source, err)
	}
	return nil
}
