package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/hooks"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/stage"
)

// dbService is how the service that writes a kind's directory is stopped
// and started around its staging.
type dbService struct {
	stop, start hooks.Command
	immutable   func(rel string) bool
}

// stageKey is the configuration key of a kind's staging setting: DB_STOP_CMD
// for db, NOTES_STOP_CMD for notes.
func stageKey(kind, setting string) string {
	return strings.ToUpper(strings.ReplaceAll(kind, "-", "_")) + "_" + setting
}

// dbService reads <KIND>_STOP_CMD, <KIND>_START_CMD (for db, the flags
// override them) and <KIND>_IMMUTABLE_GLOBS.
func (e *env) dbService(kind string, o backupOptions) (*dbService, error) {
	stopFlag, startFlag := o.dbStopCmd, o.dbStartCmd
	if kind != "db" {
		stopFlag, startFlag = "", ""
	}
	stop, err := e.hook(stageKey(kind, "STOP_CMD"), stopFlag)
	if err != nil {
		return nil, err
	}
	start, err := e.hook(stageKey(kind, "START_CMD"), startFlag)
	if err != nil {
		return nil, err
	}
	globs := stageKey(kind, "IMMUTABLE_GLOBS")
	imm, err := stage.Matcher(e.cfg.Value(globs))
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", globs, e.cfg.Source(globs), err)
	}
	return &dbService{stop: stop, start: start, immutable: imm}, nil
}

// prepareStaged readies a backup of a service's directory in opt.Source:
// with a stop command it stops the service, stages the directory, starts
// the service and points opt at the staged view; cleanup removes the
// view. Without one it reads the live directory, warning for db.
//
// Whatever the kind, the backup never reads the repository, BACKUP_DIR or
// pocketsnap's own staging and aside directories inside its source. A
// rootfs is read in place (see prepareRootfs).
func (e *env) prepareStaged(ctx context.Context, kind string, o backupOptions, opt *pipeline.Options) (cleanup func(), err error) {
	opt.Exclude = []string{e.cfg.Value("BACKUP_REPO"), e.cfg.Value("BACKUP_DIR")}
	opt.SkipName = ownDir
	if kind == "rootfs" {
		return e.prepareRootfs(ctx, o, opt)
	}
	svc, err := e.dbService(kind, o)
	if err != nil {
		return nil, err
	}
	if kind != "db" && !svc.stop.Set() {
		return func() {}, nil
	}
	opt.Immutable = svc.immutable
	if err := e.cleanStale(opt.Source); err != nil {
		return nil, err
	}
	if !svc.stop.Set() {
		e.ui.warnf("DB_STOP_CMD is not set: the snapshot of %s may be inconsistent if the database is running", opt.Source)
		return func() {}, nil
	}
	dir, downtime, cleanup, err := e.stage(ctx, kind, svc, opt.Source)
	if err != nil {
		return nil, err
	}
	opt.Dir, opt.Downtime = dir, downtime
	return cleanup, nil
}

// cleanStale removes the staging directories of src that a crashed run
// left, saying so.
func (e *env) cleanStale(src string) error {
	stale, err := stage.CleanStale(src)
	for _, dir := range stale {
		e.ui.warnf("removed the staging directory %s left by an interrupted run", dir)
	}
	return err
}

// stage stops kind's service, stages src beside it, starts the service and
// returns the staged view, the downtime and the cleanup that removes the
// view.
func (e *env) stage(ctx context.Context, kind string, svc *dbService, src string) (dir string, downtime time.Duration, cleanup func(), err error) {
	dir = stage.Path(src, time.Now())
	res, downtime, err := svc.stageStopped(ctx, e.ui.stderr, src, dir)
	if res != nil {
		cleanup = func() {
			if err := stage.Remove(dir); err != nil {
				e.ui.warnf("%v", err)
			}
		}
	}
	if err != nil {
		if cleanup != nil {
			cleanup()
		}
		return "", 0, nil, err
	}
	if res.LinkErr != nil {
		e.ui.warnf("could not hard-link into %s (%v): copied every file instead", dir, res.LinkErr)
	}
	what := "database"
	if kind != "db" {
		what = kind + " service"
	}
	fmt.Fprintf(e.ui.stdout, "%s stopped for %s (%s finished → %s started): %d files hard-linked, %d copied (%s of extra disk)\n",
		what, roundDuration(downtime), svc.stop.Key, svc.start.Key, res.Linked, res.Copied, humanBytes(res.CopiedBytes))
	return dir, downtime, cleanup, nil
}

// stageStopped runs the stop command, stages src as dst and runs the
// start command, which runs whatever happens once the stop command was
// tried (an error, a panic, ctx's cancellation) and whose failure fails
// the staging. downtime runs from the end of the stop command to the start
// of the start command.
func (svc *dbService) stageStopped(ctx context.Context, log io.Writer, src, dst string) (res *stage.Result, downtime time.Duration, err error) {
	stopped := time.Now()
	defer func() {
		downtime = time.Since(stopped)
		serr := svc.start.Run(context.WithoutCancel(ctx), log, hookTimeout)
		switch {
		case serr != nil:
			err = errors.Join(err, fmt.Errorf("the database service may be down: %w", serr))
		case errors.Is(err, context.Canceled) && svc.start.Set():
			// Issue 17.6: say in what state the interruption left it.
			err = fmt.Errorf("%w; %s (%s) then ran and succeeded, so the database service is running again", err, svc.start.Key, svc.start)
		}
	}()
	if err := svc.stop.Run(ctx, log, hookTimeout); err != nil {
		return nil, 0, err
	}
	stopped = time.Now()
	res, err = stage.Stage(ctx, src, dst, stage.Options{Immutable: svc.immutable})
	return res, 0, err
}

// roundDuration rounds d for showing: to the millisecond, or to the
// microsecond below one millisecond, which would otherwise show as 0s
// (issue 18.19).
func roundDuration(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}
