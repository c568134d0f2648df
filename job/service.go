package job

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

// Service is how the service that writes a kind's directory is stopped
// and started around its backup: <KIND>_STOP_CMD, <KIND>_START_CMD and
// <KIND>_IMMUTABLE_GLOBS.
type Service struct {
	Stop, Start hooks.Command
	// Immutable names the files never modified once written (see
	// pipeline.Options.Immutable); nil for none.
	Immutable func(rel string) bool
}

// stager readies the source of one backup: it stops and starts services,
// stages their directories and reports what it did.
type stager struct {
	r Reporter
	// log takes the service commands' output.
	log     io.Writer
	timeout time.Duration
}

// prepare readies a backup of a service's directory in opt.Source: with a
// stop command it stops the service, stages the directory, starts the
// service and points opt at the staged view; cleanup removes the view.
// Without one it reads the live directory, warning for db. A rootfs is
// read in place (see prepareRootfs).
func (g *stager) prepare(ctx context.Context, o *BackupOptions, opt *pipeline.Options) (cleanup func(), err error) {
	if o.Kind == "rootfs" {
		return g.prepareRootfs(ctx, o, opt)
	}
	svc := o.Service
	if o.Kind != "db" && !svc.Stop.Set() {
		return func() {}, nil
	}
	opt.Immutable = svc.Immutable
	if err := g.cleanStale(opt.Source); err != nil {
		return nil, err
	}
	if !svc.Stop.Set() {
		reportf(g.r, Warning, "DB_STOP_CMD is not set: the snapshot of %s may be inconsistent if the database is running", opt.Source)
		return func() {}, nil
	}
	dir, downtime, cleanup, err := g.stage(ctx, o.Kind, svc, opt.Source)
	if err != nil {
		return nil, err
	}
	opt.Dir, opt.Downtime = dir, downtime
	return cleanup, nil
}

// cleanStale removes the staging directories of src that a crashed run
// left, saying so.
func (g *stager) cleanStale(src string) error {
	stale, err := stage.CleanStale(src)
	for _, dir := range stale {
		reportf(g.r, Warning, "removed the staging directory %s left by an interrupted run", dir)
	}
	return err
}

// stage stops kind's service, stages src beside it, starts the service and
// returns the staged view, the downtime and the cleanup that removes the
// view.
func (g *stager) stage(ctx context.Context, kind string, svc Service, src string) (dir string, downtime time.Duration, cleanup func(), err error) {
	dir = stage.Path(src, time.Now())
	res, downtime, err := g.stageStopped(ctx, svc, src, dir)
	if res != nil {
		cleanup = func() {
			if err := stage.Remove(dir); err != nil {
				g.r.Report(Warning, err.Error())
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
		reportf(g.r, Warning, "could not hard-link into %s (%v): copied every file instead", dir, res.LinkErr)
	}
	what := "database"
	if kind != "db" {
		what = kind + " service"
	}
	reportf(g.r, Result, "%s stopped for %s (%s finished → %s started): %d files hard-linked, %d copied (%s of extra disk)",
		what, roundDuration(downtime), svc.Stop.Key, svc.Start.Key, res.Linked, res.Copied, size(res.CopiedBytes))
	return dir, downtime, cleanup, nil
}

// stageStopped runs the stop command, stages src as dst and runs the
// start command, which runs whatever happens once the stop command was
// tried (an error, a panic, ctx's cancellation) and whose failure fails
// the staging. downtime runs from the end of the stop command to the start
// of the start command.
func (g *stager) stageStopped(ctx context.Context, svc Service, src, dst string) (res *stage.Result, downtime time.Duration, err error) {
	stopped := time.Now()
	defer func() {
		downtime = time.Since(stopped)
		serr := svc.Start.Run(context.WithoutCancel(ctx), g.log, g.timeout)
		switch {
		case serr != nil:
			err = errors.Join(err, fmt.Errorf("the database service may be down: %w", serr))
		case errors.Is(err, context.Canceled) && svc.Start.Set():
			// Issue 17.6: say in what state the interruption left it.
			err = fmt.Errorf("%w; %s (%s) then ran and succeeded, so the database service is running again", err, svc.Start.Key, svc.Start)
		}
	}()
	if err := svc.Stop.Run(ctx, g.log, g.timeout); err != nil {
		return nil, 0, err
	}
	stopped = time.Now()
	res, err = stage.Stage(ctx, src, dst, stage.Options{Immutable: svc.Immutable})
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
