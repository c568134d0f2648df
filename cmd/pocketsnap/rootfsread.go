package main

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
// .restoring-<UTC>, .broken-<UTC> or .undone-<UTC>.
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
func (e *env) prepareRootfs(ctx context.Context, o backupOptions, opt *pipeline.Options) (func(), error) {
	root, err := e.dbService("rootfs", o)
	if err != nil {
		return nil, err
	}
	removeStaged := func() {}
	dbDir := e.cfg.Value("DB_DIR")
	rel, inside := within(opt.Source, dbDir)
	if inside && !root.stop.Set() {
		db, err := e.dbService("db", o)
		if err != nil {
			return nil, err
		}
		if !db.stop.Set() {
			e.ui.warnf("%s is stored as an empty directory: DB_DIR lies inside ROOTFS_DIR and neither ROOTFS_STOP_CMD nor DB_STOP_CMD is set, and a live database read mid-write is no backup (set DB_STOP_CMD, or back it up with 'pocketsnap backup db')", dbDir)
			opt.Grafts = map[string]string{rel: ""}
		} else {
			if err := e.cleanStale(dbDir); err != nil {
				return nil, err
			}
			dir, downtime, remove, err := e.stage(ctx, "db", db, dbDir)
			if err != nil {
				return nil, err
			}
			removeStaged = remove
			opt.Grafts = map[string]string{rel: dir}
			opt.Downtime = downtime
			opt.Immutable = func(p string) bool {
				r, ok := strings.CutPrefix(p, rel+"/")
				return ok && db.immutable(r)
			}
		}
	}
	if !root.stop.Set() {
		return removeStaged, nil
	}
	if err := root.stop.Run(ctx, e.ui.stderr, hookTimeout); err != nil {
		if serr := root.start.Run(context.WithoutCancel(ctx), e.ui.stderr, hookTimeout); serr != nil {
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
			if err := root.start.Run(context.WithoutCancel(ctx), e.ui.stderr, hookTimeout); err != nil {
				startErr = fmt.Errorf("the rootfs services may be down: %w", err)
			}
		})
	}
	opt.Release = func() (time.Duration, error) {
		released = true
		start()
		if startErr == nil {
			fmt.Fprintf(e.ui.stdout, "rootfs services stopped for %s, while the rootfs was read (%s finished → %s started); no staging copy\n",
				roundDuration(downtime), root.stop.Key, root.start.Key)
		}
		return downtime, startErr
	}
	return func() {
		start() // the backup failed before it read everything
		if !released && startErr != nil {
			e.ui.errorf("%v", startErr)
		}
		removeStaged()
	}, nil
}

// within returns the slash-separated path of dir relative to root, and
// whether dir lies strictly inside root.
func within(root, dir string) (string, bool) {
	rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(dir))
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}
