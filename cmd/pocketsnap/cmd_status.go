package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/daemon"
	"github.com/pocketsnap/pocketsnap/idle"
	"github.com/pocketsnap/pocketsnap/offsite"
	"github.com/pocketsnap/pocketsnap/restore"
)

func statusCommand() *command {
	return &command{
		name: "status", group: "Schedule",
		summary: "show the scheduled jobs: last runs and results, next wake, heartbeat",
		usage: "status [--json]" + `

Shows whether the daemon runs, each scheduled job's last success, last
attempt, result and error, what is due now (what run-due would do), the
next wake and what it will run, the repository's size, the last
heartbeat, and the conditions of the rootfs backup and the push: the
detectors in use, what they find now, and each job deferred since when.
Needs only the recipient, and never waits for a running job.`,
		keys: append([]string{"DATA_DIR", "BACKUP_DIR"}, scheduleKeys...),
		examples: []string{
			"pocketsnap status",
			"pocketsnap status --json | jq '.jobs[] | select(.result == \"failed\")'",
			"pocketsnap status --json | jq -r .next_wake",
		},
		setup: func(fs *pflag.FlagSet) runner { return runStatus },
	}
}

// statusJSON is the status, also its --json form.
type statusJSON struct {
	Repository string `json:"repository"`
	// RepositoryBytes is the size of everything the repository holds but
	// its device state (local/); absent before the first backup.
	RepositoryBytes *int64     `json:"repository_bytes,omitempty"`
	Daemon          daemonJSON `json:"daemon"`
	Hour            int        `json:"hour"`
	DBCadence       string     `json:"db_cadence"`
	// HeartbeatHost is the host of BACKUP_DAEMON_HC_URL, if set.
	HeartbeatHost string `json:"heartbeat_host,omitempty"`
	// LastPush is the record of the last offsite push, if any.
	LastPush *offsite.PushRecord `json:"last_push,omitempty"`
	// Conditions are the rootfs backup's and the push's conditions: the
	// settings, the detectors in use and what they find now.
	Conditions conditionsJSON `json:"conditions"`
	// MovedAside are the directories restores and rollbacks moved aside.
	MovedAside []movedAside `json:"moved_aside,omitempty"`
	*daemon.Status
}

type daemonJSON struct {
	Enabled bool `json:"enabled"`
	// Running says whether a daemon runs (issue 18.20: always present).
	Running bool `json:"running"`
	// Process is the daemon process, if one runs.
	Process *daemon.Holder `json:"process,omitempty"`
	// Priority is the running daemon's real CPU and I/O priority, as
	// idle.Describe says it, when it can be read.
	Priority string `json:"priority,omitempty"`
}

func runStatus(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageErrorf("status takes no arguments")
	}
	cfg, err := e.engineConfig(slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	store := e.stateStore()
	st, err := daemon.New(cfg, daemon.RealClock{}, store, slog.New(slog.DiscardHandler)).Status(ctx)
	if err != nil {
		return err
	}
	cond, err := e.conditionSettings()
	if err != nil {
		return err
	}
	out := statusJSON{Repository: e.cfg.Value("BACKUP_REPO"), Hour: cfg.Wakes.Hour, DBCadence: cfg.Jobs[0].Cadence.String(), Status: st,
		Conditions: cond.describe(ctx, true)}
	if out.Daemon.Enabled, _, err = e.daemonEnabled(); err != nil {
		return err
	}
	if h, ok := store.Daemon(); ok {
		out.Daemon.Running, out.Daemon.Process = true, &h
		out.Daemon.Priority, _ = idle.Describe(h.PID) // "" when it cannot be read (another user's)
	}
	if cfg.Heartbeat != nil {
		out.HeartbeatHost = cfg.Heartbeat.Host()
	}
	if n, err := chunkstore.Size(out.Repository); err == nil {
		out.RepositoryBytes = &n
	} else if !errors.Is(err, chunkstore.ErrNotExist) {
		return err
	}
	if s, err := chunkstore.Open(out.Repository); err == nil {
		rec, ok, err := offsite.LoadRecord(s)
		s.Close()
		if err != nil {
			return err
		}
		if ok {
			out.LastPush = &rec
		}
	}
	asides, err := restore.Asides(e.live().AsideBases()...)
	if err != nil {
		return err
	}
	for _, a := range asides {
		out.MovedAside = append(out.MovedAside, movedAside{Path: a.Path, Bytes: a.Size})
	}
	printStatus(e.ui.stdout, &out)
	e.ui.summary(out)
	return nil
}

// movedAside is a directory a restore or a rollback moved aside.
type movedAside struct {
	Path string `json:"path"`
	// Bytes is the disk space its files take.
	Bytes int64 `json:"bytes"`
}

func printStatus(w io.Writer, s *statusJSON) {
	when := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	}
	list := func(jobs []string) string {
		if len(jobs) == 0 {
			return "nothing"
		}
		return strings.Join(jobs, ", ")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	size := "no repository yet"
	if s.RepositoryBytes != nil {
		size = humanBytes(*s.RepositoryBytes)
	}
	fmt.Fprintf(tw, "repository\t%s (%s)\n", s.Repository, size)
	switch d := s.Daemon; {
	case d.Process != nil:
		fmt.Fprintf(tw, "daemon\trunning: pid %d since %s UTC\n", d.Process.PID, when(d.Process.Since))
		if d.Priority != "" {
			fmt.Fprintf(tw, "priority\t%s\n", d.Priority)
		}
	case d.Enabled:
		fmt.Fprintf(tw, "daemon\tnot running (ENABLE_BACKUP_DAEMON is true: start 'pocketsnap daemon')\n")
	default:
		fmt.Fprintf(tw, "daemon\toff (ENABLE_BACKUP_DAEMON is not true)\n")
	}
	fmt.Fprintf(tw, "schedule\twake daily at %02d:00 UTC: db %s, rootfs monthly (the 1st), retention every wake\n", s.Hour, s.DBCadence)
	fmt.Fprintf(tw, "due now\t%s\n", list(s.DueNow))
	fmt.Fprintf(tw, "next wake\t%s UTC: %s\n", when(s.NextWake), list(s.DueNextWake))
	switch h := s.Heartbeat; {
	case s.HeartbeatHost == "" && h == nil:
		fmt.Fprintf(tw, "heartbeat\tnot configured (BACKUP_DAEMON_HC_URL)\n")
	case h == nil:
		fmt.Fprintf(tw, "heartbeat\t%s: no ping yet\n", s.HeartbeatHost)
	case h.Error != "":
		fmt.Fprintf(tw, "heartbeat\t%s: the ping of %s at %s UTC failed: %s\n", h.Host, h.Reported, when(h.Time), h.Error)
	default:
		fmt.Fprintf(tw, "heartbeat\t%s: %s reported at %s UTC\n", h.Host, h.Reported, when(h.Time))
	}
	fmt.Fprintf(tw, "network\t%s\n", s.Conditions.Network)
	fmt.Fprintf(tw, "power\t%s\n", s.Conditions.Power)
	if p := s.LastPush; p != nil {
		newest := make([]string, 0, len(p.Newest))
		for _, kind := range slices.Sorted(maps.Keys(p.Newest)) {
			newest = append(newest, p.Newest[kind])
		}
		fmt.Fprintf(tw, "last push\t%s UTC to %s: %d objects, %s; the bucket's newest: %s\n",
			when(p.Time), p.Bucket, p.SentObjects, humanBytes(p.SentBytes), list(newest))
	}
	for _, a := range s.MovedAside {
		fmt.Fprintf(tw, "moved aside\t%s (%s); remove it with: rm -rf %s\n", a.Path, humanBytes(a.Bytes), shellQuote(a.Path))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tCADENCE\tLAST SUCCESS (UTC)\tLAST ATTEMPT (UTC)\tRESULT")
	for _, j := range s.Jobs {
		result := j.Result
		switch {
		case result == "":
			result = "-"
		case j.Error != "":
			result += ": " + strings.ReplaceAll(j.Error, "\n", "; ")
		case j.Result == daemon.ResultOK:
			result += fmt.Sprintf(" (%s)", (time.Duration(j.DurationMS) * time.Millisecond).String())
		}
		if j.Deferred != "" {
			last := ""
			if result != "-" {
				last = "; last run " + result
			}
			result = fmt.Sprintf("deferred: %s since %s UTC%s", j.Deferred, when(j.DeferredSince), last)
		}
		cad := j.Cadence
		if cad == "" {
			cad = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.Name, cad, when(j.LastSuccess), when(j.LastAttempt), result)
	}
	tw.Flush()
}
