package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/daemon"
	"github.com/pocketsnap/pocketsnap/heartbeat"
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
	return &daemon.ClassedError{Class: string(job.ClassOf(err)), Err: err}
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

// pingServer is a healthchecks-style endpoint on 127.0.0.1 recording the
// paths it is sent.
type pingServer struct {
	mu    sync.Mutex
	paths []string
}

func (p *pingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paths = append(p.paths, r.URL.Path)
}

func (p *pingServer) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.paths...)
}

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

	srv := &pingServer{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	hb, err := heartbeat.New(hs.URL + "/ping/secret-token")
	if err != nil {
		t.Fatal(err)
	}
	hb.Attempts = 1

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	runner := &backupRunner{repo: repo, source: src, stopCmd: "sh -c 'echo stopping; exit 3'", log: log}
	wakes, err := schedule.ParseHour("4")
	if err != nil {
		t.Fatal(err)
	}
	cfg := daemon.Config{
		Wakes: wakes, Runner: runner, Heartbeat: hb,
		Jobs: []daemon.Job{{Name: "db", Cadence: schedule.Daily, Heartbeat: true}},
	}
	eng := daemon.New(cfg, daemon.RealClock{}, daemon.NewStore(filepath.Join(repo, chunkstore.LocalDir)), log)

	status := func() daemon.JobStatus {
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
	if got := srv.got(); len(got) != 1 || got[0] != "/ping/secret-token/fail" {
		t.Fatalf("pings %v, want one /fail", got)
	}
	js := status()
	if js.Result != daemon.ResultFailed || js.Class != string(job.Failed) || !strings.Contains(js.Error, "DB_STOP_CMD (sh -c echo stopping; exit 3) failed") {
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
	if js := status(); js.Result != daemon.ResultFailed || js.Class != string(job.Locked) {
		t.Errorf("status with the repository held: %+v, want failed, class locked", js)
	}
	if got := srv.got(); len(got) != 2 || got[1] != "/ping/secret-token/fail" {
		t.Fatalf("pings %v, want a second /fail", got)
	}

	// It runs again and succeeds: a snapshot, a success ping, no class.
	if err := eng.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := srv.got(); len(got) != 3 || got[2] != "/ping/secret-token" {
		t.Fatalf("pings %v, want a success ping last", got)
	}
	if js := status(); js.Result != daemon.ResultOK || js.Class != "" || js.Error != "" || js.LastSuccess.IsZero() {
		t.Errorf("status after the success: %+v", js)
	}
	names, err := manifest.Names(s)
	if err != nil || len(names) != 1 || !strings.HasPrefix(names[0], "db-") {
		t.Fatalf("snapshots %v, %v: want one db snapshot", names, err)
	}
}
