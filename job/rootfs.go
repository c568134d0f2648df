package job

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/restore"
	"github.com/pocketsnap/pocketsnap/stage"
)

// ownDir reports whether a directory's name is one pocketsnap leaves
// beside what it stages or restores: <dir>.pocketsnap-staging-<UTC>,
// .restoring-<UTC>, .broken-<UTC> or .undone-<UTC>. A backup never reads
// them.
func ownDir(name string) bool {
	for _, suffix := range []string{stage.Suffix, restore.StagingSuffix, restore.BrokenSuffix, restore.UndoneSuffix} {
		i := strings.LastIndex(name, suffix)
		if i <= 0 {
			continue
		}
		stamp := name[i+len(suffix):]
		if len(stamp) >= 9 && strings.Trim(stamp[:8], "0123456789") == "" && stamp[8] == 'T' {
			return true
		}
	}
	return false
}

// prepareRootfs readies a rootfs backup, which reads ROOTFS_DIR in place,
// never a staged copy of it (that would take as much disk again). With
// ROOTFS_STOP_CMD the services are stopped for the read itself and
// started as soon as the walk is done. Otherwise a database in DB_DIR
// inside the rootfs is read from a staged view the db kind's way when
// DB_STOP_CMD is set, and stored as an empty directory when it is not:
// a live RocksDB read mid-write is no backup.
func (g *stager) prepareRootfs(ctx context.Context, o *BackupOptions, opt *pipeline.Options) (func(), error) {
	root := o.Service
	removeStaged := func() {}
	rel, inside := within(opt.Source, o.DBDir)
	if inside && !root.Stop.Set() {
		db := o.DBService
		if !db.Stop.Set() {
			reportf(g.r, Warning, "%s is stored as an empty directory: DB_DIR lies inside ROOTFS_DIR and neither ROOTFS_STOP_CMD nor DB_STOP_CMD is set, and a live database read mid-write is no backup (set DB_STOP_CMD, or back it up with 'pocketsnap backup db')", o.DBDir)
			opt.Grafts = map[string]string{rel: ""}
		} else {
			if err := g.cleanStale(o.DBDir); err != nil {
				return nil, err
			}
			dir, downtime, remove, err := g.stage(ctx, "db", db, o.DBDir)
			if err != nil {
				return nil, err
			}
			removeStaged = remove
			opt.Grafts = map[string]string{rel: dir}
			opt.Downtime = downtime
			opt.Immutable = func(p string) bool {
				r, ok := strings.CutPrefix(p, rel+"/")
				return ok && db.Immutable != nil && db.Immutable(r)
			}
		}
	}
	if !root.Stop.Set() {
		return removeStaged, nil
	}
	if err := root.Stop.Run(ctx, g.log, g.timeout); err != nil {
		if serr := root.Start.Run(context.WithoutCancel(ctx), g.log, g.timeout); serr != nil {
			err = fmt.Errorf("%w; and the rootfs services may be down: %w", err, serr)
		}
		removeStaged()
		return nil, err
	}
	stopped := time.Now()
	var once sync.Once
	var downtime time.Duration
	var startErr error
	released := false
	start := func() {
		once.Do(func() {
			downtime = time.Since(stopped)
			if err := root.Start.Run(context.WithoutCancel(ctx), g.log, g.timeout); err != nil {
				startErr = fmt.Errorf("the rootfs services may be down: %w", err)
			}
		})
	}
	opt.Release = func() (time.Duration, error) {
		released = true
		start()
		if startErr == nil {
			reportf(g.r, Result, "rootfs services stopped for %s, while the rootfs was read (%s finished → %s started); no staging copy",
				roundDuration(downtime), root.Stop.Key, root.Start.Key)
		}
		return downtime, startErr
	}
	return func() {
		start() // the backup failed before it read everything
		if !released && startErr != nil {
			g.r.Report(Error, startErr.Error())
		}
		removeStaged()
	}, nil
}

// within returns the slash-separated path of dir relative to root, and
// whether dir lies strictly inside root.
func within(root, dir string) (string, bool) {
	if dir == "" {
		return "", false
	}
	rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(dir))
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}
