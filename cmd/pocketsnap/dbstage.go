package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pocketsnap/pocketsnap/hooks"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/stage"
)

// dbService is how a database directory is stopped and started around its
// staging.
type dbService struct {
	stop, start hooks.Command
	immutable   func(rel string) bool
}

// dbService reads DB_STOP_CMD, DB_START_CMD (or the flags overriding them)
// and DB_IMMUTABLE_GLOBS.
func (e *env) dbService(o backupOptions) (*dbService, error) {
	stop, err := e.hook("DB_STOP_CMD", o.dbStopCmd)
	if err != nil {
		return nil, err
	}
	start, err := e.hook("DB_START_CMD", o.dbStartCmd)
	if err != nil {
		return nil, err
	}
	imm, err := stage.Matcher(e.cfg.get("DB_IMMUTABLE_GLOBS", stage.DefaultImmutable))
	if err != nil {
		return nil, fmt.Errorf("DB_IMMUTABLE_GLOBS (%s): %w", e.cfg.where("DB_IMMUTABLE_GLOBS"), err)
	}
	return &dbService{stop: stop, start: start, immutable: imm}, nil
}

// prepareDB readies a backup of the database directory in opt.Source:
// without a stop command it warns and reads the live directory; with one
// it stops the service, stages the directory, starts the service and
// points opt at the staged view. cleanup removes the view.
func (e *env) prepareDB(ctx context.Context, o backupOptions, opt *pipeline.Options) (cleanup func(), err error) {
	svc, err := e.dbService(o)
	if err != nil {
		return nil, err
	}
	opt.Immutable = svc.immutable
	stale, err := stage.CleanStale(opt.Source)
	for _, dir := range stale {
		e.ui.warnf("removed the staging directory %s left by an interrupted run", dir)
	}
	if err != nil {
		return nil, err
	}
	if !svc.stop.Set() {
		e.ui.warnf("DB_STOP_CMD is not set: the snapshot of %s may be inconsistent if the database is running", opt.Source)
		return func() {}, nil
	}
	dir := stage.Path(opt.Source, time.Now())
	res, downtime, err := svc.stageStopped(ctx, e.ui.stderr, opt.Source, dir)
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
		return nil, err
	}
	if res.LinkErr != nil {
		e.ui.warnf("could not hard-link into %s (%v): copied every file instead", dir, res.LinkErr)
	}
	fmt.Fprintf(e.ui.stdout, "database stopped for %s (DB_STOP_CMD finished → DB_START_CMD started): %d files hard-linked, %d copied\n",
		downtime.Round(time.Millisecond), res.Linked, res.Copied)
	opt.Dir, opt.Downtime = dir, downtime
	return cleanup, nil
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
		if serr := svc.start.Run(context.WithoutCancel(ctx), log, hookTimeout); serr != nil {
			err = errors.Join(err, fmt.Errorf("the database service may be down: %w", serr))
		}
	}()
	if err := svc.stop.Run(ctx, log, hookTimeout); err != nil {
		return nil, 0, err
	}
	stopped = time.Now()
	res, err = stage.Stage(ctx, src, dst, stage.Options{Immutable: svc.immutable})
	return res, 0, err
}
