package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/prune"
)

// RotateOptions configure a rotation: retention, garbage collection and
// the classic archives' retention (see package prune).
type RotateOptions struct {
	prune.Options
	// LockWait is how long to wait for another process that holds the
	// repository.
	LockWait time.Duration
	// Open opens the repository, with its identities set for a repack;
	// an error wrapping chunkstore.ErrNotExist says there is none.
	Open func() (*chunkstore.Store, error)
}

// Rotate opens the repository and applies retention to it under its
// exclusive lock. Without a repository it rotates the classic archives
// only, unless it was asked to repack or forget snapshots, which need
// one. It reports what it could not do, and how to recover; the front
// end renders the report.
func Rotate(ctx context.Context, opt RotateOptions, r Reporter) (*prune.Report, error) {
	s, err := opt.Open()
	switch {
	case errors.Is(err, chunkstore.ErrNotExist) && !opt.Repack && len(opt.Forget) == 0:
		reportf(r, Info, "%v: rotating classic archives only", err)
		rep := prune.NewReport(opt.DryRun)
		return rep, prune.Archives(opt.Options, rep)
	case err != nil:
		return nil, err
	}
	defer s.Close()
	l, err := lock(ctx, s, opt.LockWait, r)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	rep, err := prune.Local(ctx, s, opt.Options)
	if err != nil {
		return nil, err
	}
	warnRotation(rep, r)
	return rep, nil
}

// rotateAfterBackup runs the rotation that ends a backup, under its lock,
// and says in one line what it deleted.
func rotateAfterBackup(ctx context.Context, s *chunkstore.Store, opt prune.Options, r Reporter) error {
	rep, err := prune.Local(ctx, s, opt)
	if err != nil {
		return fmt.Errorf("rotation failed: %w", err)
	}
	if n := len(rep.Snapshots) + len(rep.Packs) + len(rep.Archives); n > 0 {
		names := make([]string, len(rep.Snapshots))
		for i, sn := range rep.Snapshots {
			names[i] = sn.Name
		}
		reportf(r, Info, "rotate: deleted %d snapshots (%s), %d packs and %d archives, freed %s",
			len(rep.Snapshots), strings.Join(names, ", "), len(rep.Packs), len(rep.Archives), size(rep.Freed))
	}
	warnRotation(rep, r)
	return nil
}

// warnRotation says what a rotation could not do, and how to recover.
func warnRotation(rep *prune.Report, r Reporter) {
	if rep.Unindexed > 0 {
		reportf(r, Warning, "%d blobs of kept snapshots are not in the index: orphaned packs were kept, since they may hold them (run 'pocketsnap check')", rep.Unindexed)
	}
	for _, u := range rep.Unreadable {
		reportf(r, Warning, "snapshot %s is kept and no pack was deleted: its manifest does not load (%s), so the packs it needs cannot be told", u.Name, u.Error)
	}
	if len(rep.Unreadable) > 0 {
		reportf(r, Hint, "if the snapshot cannot be repaired, forget it explicitly: pocketsnap rotate --forget %s", rep.Unreadable[0].Name)
	}
}
