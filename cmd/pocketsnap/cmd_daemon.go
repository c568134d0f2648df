package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/daemon"
	"github.com/pocketsnap/pocketsnap/internal/flock"
)

type scheduleOptions struct {
	logJSON bool
}

const scheduleHelp = `

Wakes once a day at BACKUP_DAEMON_HOUR (default 4) UTC and runs, in this
order, what is due: the db backup per BACKUP_DB_CADENCE (daily, the
default; weekly: the wake of each Monday; monthly: the wake of the 1st),
the rootfs backup at the wake of the 1st of each month, and retention at
every wake. A job is due when its last success (for a backup, its newest
complete snapshot in the repository; a snapshot taken by hand counts) is
older than the start of its period, so missed wakes (the phone off or
asleep) cost one run, at the next start or wake, and a failed job is
retried at the next wake. A job that never succeeded is due at once.

Everything runs at nice 19 in the idle I/O class, and so do the commands
it starts (DB_STOP_CMD, DB_START_CMD: start services through their
supervisor, e.g. 'sv up conduwuit', so they run at their own priority).
With BACKUP_DAEMON_HC_URL, a successful db backup GETs the URL and any
failed job GETs <url>/fail; only the URL's host is ever logged. Events go
to stdout, one line each with a UTC timestamp.`

func daemonCommand() *command {
	var o scheduleOptions
	return &command{
		name: "daemon", group: "Schedule",
		summary: "run the scheduled backups, in the foreground, for a supervisor",
		usage: "daemon [--log-json]" + scheduleHelp + `

Does nothing and exits 0 unless ENABLE_BACKUP_DAEMON is true, so a
supervisor may start it unconditionally. Starts with a pass that catches
up on what is overdue, then sleeps until each wake. One daemon runs per
repository (local/daemon.lock). SIGTERM or SIGINT interrupts a running job
safely (the db service is started again, the repository lock released)
and exits 0; SIGHUP re-reads the env file.`,
		keys: append(slices.Clone(scheduleKeys), jobKeys...),
		examples: []string{
			"ENABLE_BACKUP_DAEMON=true pocketsnap daemon --env-file ~/pocket/.env",
			"pocketsnap daemon --log-json                   # as a runit run script runs it (termux-services): exec … 2>&1",
			"pocketsnap daemon --env-file ~/pocket/.env     # 'sv hup pocketsnap' (SIGHUP) re-reads the env file",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.BoolVar(&o.logJSON, "log-json", false, "log JSON objects, one per line")
			return func(ctx context.Context, e *env, args []string) error { return runDaemon(ctx, e, o, args) }
		},
	}
}

func runDueCommand() *command {
	var o scheduleOptions
	return &command{
		name: "run-due", group: "Schedule",
		summary: "run the scheduled jobs that are due now, once, and exit",
		usage: "run-due [--log-json]" + scheduleHelp + `

For cron, and for running the schedule by hand: it does what the daemon
would do if it woke now, and waits (--lock-wait) while the daemon's own
pass runs, then finds that work done. Exits 1 if a job failed.`,
		keys: append([]string{"BACKUP_DAEMON_HOUR", "BACKUP_DB_CADENCE", "BACKUP_DAEMON_HC_URL"}, jobKeys...),
		examples: []string{
			"pocketsnap run-due",
			"pocketsnap run-due --quiet --env-file ~/pocket/.env   # from crontab, 17 */6 * * *: catches up within 6 hours",
			"pocketsnap run-due --log-json | jq -r 'select(.level==\"ERROR\") | .msg'",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.BoolVar(&o.logJSON, "log-json", false, "log JSON objects, one per line")
			return func(ctx context.Context, e *env, args []string) error { return runRunDue(ctx, e, o, args) }
		},
	}
}

func runDaemon(ctx context.Context, e *env, o scheduleOptions, args []string) error {
	if len(args) > 0 {
		return usageErrorf("daemon takes no arguments")
	}
	log := newLogger(e.ui.stdout, o.logJSON, e.g.quiet)
	if on, why := e.daemonEnabled(); !on {
		log.Info("the daemon is off: nothing to do", "why", why)
		return nil
	}
	cfg, err := e.engineConfig(log)
	if err != nil {
		return err
	}
	store := e.stateStore()
	release, err := store.LockDaemon()
	if err != nil {
		return err
	}
	defer release()
	lowerPriority(log)
	hb := "none"
	if cfg.Heartbeat != nil {
		hb = cfg.Heartbeat.Host()
	}
	log.Info("daemon started", "repository", e.cfg.repoDir(), "hour", cfg.Wakes.Hour, "db_cadence", cfg.Jobs[0].Cadence.String(), "heartbeat", hb)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reload := make(chan daemon.Config)
	go e.reloadOnHUP(ctx, cancel, log, reload)
	eng := daemon.New(cfg, daemon.RealClock{}, store, log)
	eng.PassWait = math.MaxInt64
	return eng.Run(ctx, reload)
}

// reloadOnHUP re-reads the env file on every SIGHUP and hands the new
// configuration to the engine, until ctx is done. A bad file is logged
// and the old configuration kept; ENABLE_BACKUP_DAEMON no longer true
// stops the daemon (cancel).
func (e *env) reloadOnHUP(ctx context.Context, cancel func(), log *slog.Logger, reload chan<- daemon.Config) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cur := e
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		next, cfg, err := cur.reread(log)
		if err != nil {
			log.Error("configuration not reloaded", "error", err)
			continue
		}
		if next == nil {
			cancel()
			return
		}
		cur = next
		select {
		case reload <- cfg:
		case <-ctx.Done():
			return
		}
	}
}

// reread loads the env file again, into a new env and the engine
// configuration it gives. It returns a nil env when the daemon is to stop.
func (e *env) reread(log *slog.Logger) (*env, daemon.Config, error) {
	var cfg daemon.Config
	c, err := loadConfig(e.g.envFile)
	if err != nil {
		return nil, cfg, err
	}
	if e.g.repo != "" {
		c.set("BACKUP_REPO", e.g.repo, "--repo")
	}
	if c.repoDir() != e.cfg.repoDir() {
		return nil, cfg, fmt.Errorf("the repository changed from %s to %s: restart the daemon to move it", e.cfg.repoDir(), c.repoDir())
	}
	ne := &env{ui: e.ui, cfg: c, g: e.g}
	if on, why := ne.daemonEnabled(); !on {
		log.Info("the daemon is now off: stopping", "why", why)
		return nil, cfg, nil
	}
	cfg, err = ne.engineConfig(log)
	if err != nil {
		return nil, cfg, err
	}
	return ne, cfg, nil
}

func runRunDue(ctx context.Context, e *env, o scheduleOptions, args []string) error {
	if len(args) > 0 {
		return usageErrorf("run-due takes no arguments")
	}
	log := newLogger(e.ui.stdout, o.logJSON, e.g.quiet)
	cfg, err := e.engineConfig(log)
	if err != nil {
		return err
	}
	lowerPriority(log)
	eng := daemon.New(cfg, daemon.RealClock{}, e.stateStore(), log)
	eng.PassWait = e.g.lockWait
	err = eng.RunDue(ctx)
	var he *flock.HeldError
	if err == nil || errors.As(err, &he) || ctx.Err() != nil {
		return err
	}
	// The jobs' own errors, flattened: one failed backup must not pass
	// for another exit code (errIncomplete's hides the message).
	return fmt.Errorf("scheduled jobs failed:\n%s", err)
}
