package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/hooks"
	"github.com/pocketsnap/pocketsnap/job"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/schedule"
)

// backupRunner runs the scheduled db backup by calling job.Backup on a
// real repository, as cmd/pocketsnap's runner does, and hands the engine
// the typed outcome.
type backupRunner struct {
	repo, source string
	// stopCmd is DB_STOP_CMD.
	stopCmd string
	log     *slog.Logger
}

func (r *backupRunner) Run(ctx context.Context, name string) error {
	s, err := chunkstore.Open(r.repo)
	if err != nil {
		return err
	}
	defer s.Close()
	stop, err := hooks.Parse("DB_STOP_CMD", r.stopCmd)
	if err != nil {
		return err
	}
	log := r.log.With("job", name)
	_, err = job.Backup(ctx, s, job.BackupOptions{
		Kind: name, Source: r.source, Service: job.Service{Stop: stop},
		HookTimeout: time.Minute, Tool: "test",
	}, logReporter{log})
	if err == nil {
		return nil
	}
	return &ClassedError{Class: string(job.ClassOf(err)), Err: err}
}

func (r *backupRunner) LastSuccess(context.Context, string) (time.Time, error) {
	return time.Time{}, nil
}

// logReporter logs a job's messages at their level.
type logReporter struct{ log *slog.Logger }

func (r logReporter) Report(level job.Level, msg string) {
	l := slog.LevelInfo
	if level == job.Warning {
		l = slog.LevelWarn
	}
	r.log.Log(context.Background(), l, msg)
}

func (logReporter) Progress(string, string, int64, *pipeline.Progress) func() { return func() {} }

// Issue 19.4: a scheduled job that calls job.Backup on a real repository
// and fails for real — the database's stop command exits 3, then another
// process holds the repository — reaches the heartbeat (a real HTTP
// server gets <url>/fail) and the engine's status as a typed result
// (failed, with the class the CLI's exit code derives from), and the
// success that follows pings the URL itself and saves a snapshot.
func TestScheduledJobFailureReachesHeartbeatAndStatus(t *testing.T) {
	dir := t.TempDir()
	repo, src := filepath.Join(dir, "repo"), filepath.Join(dir, "db")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "000001.sst"), []byte("table"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := chunkstore.Init(repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	srv := &pings{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	hb := pinger(t, hs.URL+"/"+token)

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	runner := &backupRunner{repo: repo, source: src, stopCmd: "sh -c 'echo stopping; exit 3'", log: log}
	wakes, err := schedule.ParseHour("4")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Wakes: wakes, Runner: runner, Heartbeat: hb,
		Jobs: []Job{{Name: "db", Cadence: schedule.Daily, Heartbeat: true}},
	}
	eng := New(cfg, RealClock{}, NewStore(filepath.Join(repo, chunkstore.LocalDir)), log)

	status := func() JobStatus {
		t.Helper()
		st, err := eng.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Jobs) != 1 || st.Heartbeat == nil {
			t.Fatalf("status: %+v", st)
		}
		return st.Jobs[0]
	}

	// The stop command fails: the backup fails, the service is not
	// staged, and the heartbeat is told.
	if err := eng.RunDue(t.Context()); err == nil || !strings.Contains(err.Error(), "DB_STOP_CMD") {
		t.Fatalf("RunDue = %v, want the stop command's failure", err)
	}
	if got := srv.got(); got != "/"+token+"/fail" {
		t.Fatalf("pings %v, want one /fail", got)
	}
	js := status()
	if js.Result != ResultFailed || js.Class != string(job.Failed) || !strings.Contains(js.Error, "DB_STOP_CMD (sh -c echo stopping; exit 3) failed") {
		t.Errorf("status after the failed stop command: %+v", js)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="job failed; it is retried at the next wake" job=db`) {
		t.Errorf("log lacks the failure:\n%s", logs.String())
	}

	// Another process holds the repository: the failure is classed
	// locked, as the CLI's exit code 4.
	runner.stopCmd = "true"
	held, err := s.Lock(true)
	if err != nil {
		t.Fatal(err)
	}
	err = eng.RunDue(t.Context())
	held.Unlock()
	var le *chunkstore.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("RunDue = %v, want a *chunkstore.LockedError", err)
	}
	if js := status(); js.Result != ResultFailed || js.Class != string(job.Locked) {
		t.Errorf("status with the repository held: %+v, want failed, class locked", js)
	}
	if got := srv.got(); got != "/"+token+"/fail /"+token+"/fail" {
		t.Fatalf("pings %v, want a second /fail", got)
	}

	// It runs again and succeeds: a snapshot, a success ping, no class.
	if err := eng.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := srv.got(); got != "/"+token+"/fail /"+token+"/fail /"+token {
		t.Fatalf("pings %v, want a success ping last", got)
	}
	if js := status(); js.Result != ResultOK || js.Class != "" || js.Error != "" || js.LastSuccess.IsZero() {
		t.Errorf("status after the success: %+v", js)
	}
	names, err := manifest.Names(s)
	if err != nil || len(names) != 1 || !strings.HasPrefix(names[0], "db-") {
		t.Fatalf("snapshots %v, %v: want one db snapshot", names, err)
	}
}
