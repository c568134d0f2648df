package main

import (
	"context"
	"errors"
	"fmt"
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
	log := daemon.NewLogger(e.ui.stdout, o.logJSON, e.g.quiet)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// The hook helper starts once, the first time the daemon is on, before
	// the engine lowers the priority: one started later would be idle too.
	var helper *hooks.Helper
	var stopHelper func()
	defer func() {
		if stopHelper != nil {
			stopHelper()
		}
	}()
	load := func() (daemon.Settings, error) {
		c, err := loadConfig(e.g)
		if err == nil {
			err = c.Err()
		}
		if err != nil {
			return daemon.Settings{}, err
		}
		ne := &env{ui: e.ui, cfg: c, g: e.g}
		set := daemon.Settings{Repository: c.Value("BACKUP_REPO")}
		on, why, err := ne.daemonEnabled()
		if err != nil || !on {
			set.Off = why
			return set, err
		}
		if stopHelper == nil {
			helper, stopHelper = startHookHelper(log)
		}
		ne.helper = helper
		set.Store = ne.stateStore()
		set.Config, err = ne.engineConfig(log)
		return set, err
	}
	svc := &daemon.Service{Load: load, Clock: daemon.RealClock{}, Log: log, Started: func(set daemon.Settings) {
		lowerPriority(log)
		hb := "none"
		if set.Config.Heartbeat != nil {
			hb = set.Config.Heartbeat.Host()
		}
		log.Info("daemon started", "repository", set.Repository, "hour", set.Config.Wakes.Hour, "db_cadence", set.Config.Jobs[0].Cadence.String(), "heartbeat", hb)
	}}
	return svc.Serve(ctx, hup)
}

func runRunDue(ctx context.Context, e *env, o scheduleOptions, args []string) error {
	if len(args) > 0 {
		return usageErrorf("run-due takes no arguments")
	}
	log := daemon.NewLogger(e.ui.stdout, o.logJSON, e.g.quiet)
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
