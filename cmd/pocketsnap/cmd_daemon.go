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
	"github.com/pocketsnap/pocketsnap/hooks"
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

Everything runs at nice 19 in the idle I/O class but the service commands
(<KIND>_STOP_CMD, <KIND>_START_CMD): a helper started before the priority
is lowered runs them at the priority pocketsnap was started with, so a
start command that launches the homeserver itself does not leave it idle.
The db backup and retention always run. The rootfs backup waits for power
(BACKUP_POWER=charging: only while charging; BACKUP_MIN_BATTERY=N: not
below N% unless charging), and the push for power and the network
(OFFSITE_NETWORK=wifi: only on Wi-Fi; an unknown state waits;
OFFSITE_WHEN_CMD, when set, decides instead: exit 0 = go). They are
detected with the Termux:API commands, else nmcli and
/sys/class/power_supply (see 'pocketsnap config'). A job that waits is
deferred, never skipped: it stays due and runs at the first wake, or
re-check every BACKUP_RECHECK (30m) while something waits, at which its
conditions hold.

With BACKUP_DAEMON_HC_URL, a successful db backup GETs the URL and any
failed job GETs <url>/fail; only the URL's host is ever logged. Once a
job has been deferred for BACKUP_DEFER_ALERT (3d), every wake GETs
<url>/fail and no success, until it runs. Events go
to stdout, one line each with a UTC timestamp.`

func daemonCommand() *command {
	var o scheduleOptions
	return &command{
		name: "daemon", group: "Schedule",
		summary: "run the scheduled backups, in the foreground, for a supervisor",
		usage: "daemon [--log-json]" + scheduleHelp + `

Unless ENABLE_BACKUP_DAEMON is on (true, 1, yes or on), it says why once
and waits, doing nothing, so that a supervisor that starts it
unconditionally does not restart it forever: SIGTERM then exits 0, and
SIGHUP re-reads the env file and starts the schedule if it is now on.
Starts with a pass that catches up on what is overdue, then sleeps until
each wake. One daemon runs per repository (local/daemon.lock). SIGTERM or
SIGINT interrupts a running job safely (the db service is started again,
the repository lock released) and exits 0; SIGHUP re-reads the env file
(turned off, the daemon stops its schedule and waits again).`,
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
		keys: slices.Concat([]string{"BACKUP_DAEMON_HOUR", "BACKUP_DB_CADENCE", "BACKUP_DAEMON_HC_URL"}, conditionKeys, jobKeys),
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
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	on, why, err := e.daemonEnabled()
	if err != nil {
		return err
	}
	// The hook helper starts once, before the first run lowers the
	// priority: one started later would be idle too.
	var helper *hooks.Helper
	started := false
	for {
		if on {
			if !started {
				h, stop := startHookHelper(log)
				defer stop()
				helper, started = h, true
			}
			e.helper = helper
			next, err := e.runEngine(ctx, log, hup)
			if next == nil || err != nil {
				return err
			}
			e = next
		} else {
			// Issue 18.14: a disabled daemon stays up, so that a
			// supervisor does not restart it forever.
			log.Info("the daemon is off: waiting for SIGHUP (re-read the settings) or SIGTERM", "why", why)
			if e = e.waitHUP(ctx, log, hup); e == nil {
				return nil
			}
		}
		if on, why, err = e.daemonEnabled(); err != nil {
			return err
		}
	}
}

// waitHUP waits for a SIGHUP that brings a configuration without error,
// and returns the env of it; nil when ctx is done first.
func (e *env) waitHUP(ctx context.Context, log *slog.Logger, hup <-chan os.Signal) *env {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
		}
		c, err := loadConfig(e.g)
		if err == nil {
			err = c.Err()
		}
		if err == nil {
			_, _, err = (&env{cfg: c}).daemonEnabled()
		}
		if err != nil {
			log.Error("configuration not reloaded", "error", err)
			continue
		}
		return &env{ui: e.ui, cfg: c, g: e.g}
	}
}

// runEngine runs the schedule until ctx is done (it returns nil, nil) or
// a SIGHUP turns the daemon off (it returns the new env).
func (e *env) runEngine(ctx context.Context, log *slog.Logger, hup <-chan os.Signal) (*env, error) {
	cfg, err := e.engineConfig(log)
	if err != nil {
		return nil, err
	}
	store := e.stateStore()
	release, err := store.LockDaemon()
	if err != nil {
		return nil, err
	}
	defer release()
	lowerPriority(log)
	hb := "none"
	if cfg.Heartbeat != nil {
		hb = cfg.Heartbeat.Host()
	}
	log.Info("daemon started", "repository", e.cfg.Value("BACKUP_REPO"), "hour", cfg.Wakes.Hour, "db_cadence", cfg.Jobs[0].Cadence.String(), "heartbeat", hb)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reload := make(chan daemon.Config)
	off := make(chan *env, 1)
	go e.reloadOnHUP(ctx, hup, log, reload, off)
	eng := daemon.New(cfg, daemon.RealClock{}, store, log)
	eng.PassWait = math.MaxInt64
	runErr := make(chan error, 1)
	go func() { runErr <- eng.Run(ctx, reload) }()
	select {
	case err := <-runErr:
		return nil, err
	case next := <-off:
		cancel()
		return next, <-runErr
	}
}

// reloadOnHUP re-reads the env file on every SIGHUP and hands the new
// configuration to the engine, until ctx is done. A bad file is logged
// and the old configuration kept; ENABLE_BACKUP_DAEMON now off sends the
// new env to off and returns.
func (e *env) reloadOnHUP(ctx context.Context, hup <-chan os.Signal, log *slog.Logger, reload chan<- daemon.Config, off chan<- *env) {
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
		if on, _, _ := next.daemonEnabled(); !on {
			off <- next
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

// reread loads the env file again, into a new env and, when the daemon
// stays on, the engine configuration it gives.
func (e *env) reread(log *slog.Logger) (*env, daemon.Config, error) {
	var cfg daemon.Config
	c, err := loadConfig(e.g)
	if err == nil {
		err = c.Err()
	}
	if err != nil {
		return nil, cfg, err
	}
	if c.Value("BACKUP_REPO") != e.cfg.Value("BACKUP_REPO") {
		return nil, cfg, fmt.Errorf("the repository changed from %s to %s: restart the daemon to move it", e.cfg.Value("BACKUP_REPO"), c.Value("BACKUP_REPO"))
	}
	ne := &env{ui: e.ui, cfg: c, g: e.g, helper: e.helper}
	on, why, err := ne.daemonEnabled()
	if err != nil {
		return nil, cfg, err
	}
	if !on {
		log.Info("the daemon is now off: stopping the schedule", "why", why)
		return ne, cfg, nil
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
	h, stop := startHookHelper(log)
	defer stop()
	e.helper = h
	lowerPriority(log)
	eng := daemon.New(cfg, daemon.RealClock{}, e.stateStore(), log)
	eng.PassWait = e.g.lockWait
	err = eng.RunDue(ctx)
	var he *flock.HeldError
	if err == nil || errors.As(err, &he) || ctx.Err() != nil {
		return err
	}
	// The jobs' own errors, flattened: one failed backup must not pass
	// for another exit code (an incomplete snapshot's hides the message).
	return fmt.Errorf("scheduled jobs failed:\n%s", err)
}
