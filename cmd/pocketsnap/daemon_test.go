package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/daemon"
	"github.com/pocketsnap/pocketsnap/idle"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

const pingToken = "3f9a0c1e-ping-token"

// pingServer is a healthchecks-style endpoint on 127.0.0.1; got lists the
// paths it was sent.
type pingServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newPingServer(t *testing.T) *pingServer {
	p := &pingServer{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.paths = append(p.paths, r.URL.Path)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *pingServer) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.paths)
}

// scheduled configures c for the scheduled jobs: db and rootfs trees
// generated from seeds, and a wake hour twelve hours away.
func (c *cli) scheduled(dbSeed, rootfsSeed int64) (db, rootfs string) {
	c.t.Helper()
	db, rootfs = filepath.Join(c.dir, "db"), filepath.Join(c.dir, "rootfs")
	for dir, seed := range map[string]int64{db: dbSeed, rootfs: rootfsSeed} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			c.t.Fatal(err)
		}
		if err := testtree.Generate(dir, seed); err != nil {
			c.t.Fatal(err)
		}
	}
	c.env = append(c.env, "DB_DIR="+db, "ROOTFS_DIR="+rootfs, "BACKUP_DAEMON_HOUR="+farHour())
	return db, rootfs
}

func (c *cli) status() statusJSON {
	c.t.Helper()
	cmd := c.command("status", "--json")
	out, err := cmd.Output()
	if err != nil {
		c.t.Fatalf("status --json: %v", err)
	}
	var s statusJSON
	if err := json.Unmarshal(lastLine(out), &s); err != nil {
		c.t.Fatalf("status --json: %v\n%s", err, out)
	}
	if strings.Contains(string(out), pingToken) {
		c.t.Errorf("status holds the ping token:\n%s", out)
	}
	return s
}

func (c *cli) snapshotList() []snapshotJSON {
	c.t.Helper()
	var sum struct {
		Snapshots []snapshotJSON `json:"snapshots"`
	}
	if err := json.Unmarshal(lastLine([]byte(c.mustRun("snapshots", "--json"))), &sum); err != nil {
		c.t.Fatal(err)
	}
	return sum.Snapshots
}

// lastLine is the last line of a command's --json output: its summary.
func lastLine(out []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	return lines[len(lines)-1]
}

func (s statusJSON) job(name string) daemon.JobStatus {
	for _, j := range s.Jobs {
		if j.Name == name {
			return j
		}
	}
	return daemon.JobStatus{}
}

// Issue 7, acceptance 4: run-due performs a real db and rootfs backup and
// retention against a local repository, pings the heartbeat once, and
// status --json reports it; the snapshots check and restore, and a second
// run-due finds nothing due. Issue 19: with BACKUP_COMPAT, the scheduled
// backups write their classic archives too, and log them.
func TestRunDueEndToEnd(t *testing.T) {
	c := newCLI(t)
	db, _ := c.scheduled(21, 22)
	hc := newPingServer(t)
	notes := filepath.Join(c.dir, "notes")
	writeRandom(t, filepath.Join(notes, "n.txt"), 4<<10, rand.New(rand.NewPCG(1, 1)))
	c.env = append(c.env, "BACKUP_KEEP_NOTES=1", "BACKUP_DAEMON_HC_URL="+hc.URL+"/ping/"+pingToken)
	// Two snapshots of another kind: one too many for its retention.
	c.mustRun("backup", "notes", "--source", notes, "--no-rotate")
	time.Sleep(time.Second) // names have whole seconds
	c.mustRun("backup", "notes", "--source", notes, "--no-rotate")

	c.env = append(c.env, "BACKUP_COMPAT=true")
	out := c.mustRun("run-due")
	for _, kind := range []string{"db", "rootfs"} {
		re := regexp.MustCompile(`msg="classic archive ([^ "]*/` + kind + `/` + kind + `-[0-9TZ]+\.tar\.zst(\.age)?) \(.*" job=` + kind)
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("run-due does not log the %s backup's classic archive:\n%s", kind, out)
		} else if _, err := os.Stat(m[1]); err != nil {
			t.Errorf("the %s archive logged is not there: %v", kind, err)
		}
	}
	for _, want := range []string{`msg="due now" jobs=db,rootfs,retention`, `msg="job done" job=db`, `msg="job done" job=rootfs`,
		`msg="deleted snapshot notes-`, `msg="job done" job=retention`, `msg="heartbeat sent" host=` + strings.TrimPrefix(hc.URL, "http://") + " reported=success"} {
		if !strings.Contains(out, want) {
			t.Errorf("run-due output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, pingToken) {
		t.Errorf("run-due output holds the ping token:\n%s", out)
	}
	if got := hc.got(); !slices.Equal(got, []string{"/ping/" + pingToken}) {
		t.Errorf("pings %q, want one success", got)
	}

	snaps := c.snapshotList()
	kinds := map[string]snapshotJSON{}
	for _, s := range snaps {
		kinds[s.Kind] = s
	}
	if len(snaps) != 3 || len(kinds) != 3 {
		t.Fatalf("snapshots %+v, want one of each of db, rootfs, notes", snaps)
	}
	s := c.status()
	for _, kind := range []string{"db", "rootfs"} {
		if j := s.job(kind); j.Result != daemon.ResultOK || !j.LastSuccess.Equal(kinds[kind].Time) {
			t.Errorf("%s: %+v, want ok with the snapshot's time %s", kind, j, kinds[kind].Time)
		}
	}
	if j := s.job("retention"); j.Result != daemon.ResultOK || j.LastSuccess.IsZero() {
		t.Errorf("retention: %+v", j)
	}
	if len(s.DueNow) != 0 || !slices.Contains(s.DueNextWake, "db") || !slices.Contains(s.DueNextWake, "retention") {
		t.Errorf("due now %v, at the next wake (%s) %v", s.DueNow, s.NextWake, s.DueNextWake)
	}
	if h := s.Heartbeat; h == nil || h.Reported != "success" || h.Error != "" || h.Host != strings.TrimPrefix(hc.URL, "http://") {
		t.Errorf("heartbeat %+v", h)
	}
	if s.RepositoryBytes == nil || *s.RepositoryBytes < kinds["db"].AddedBytes+kinds["rootfs"].AddedBytes {
		t.Errorf("repository size %v", s.RepositoryBytes)
	}

	c.mustRun("check", "--read-data")
	target := filepath.Join(c.dir, "restored")
	c.mustRun("restore", kinds["db"].Name, "--target", target)
	if err := testtree.Compare(db, target, testtree.Options{}); err != nil {
		t.Errorf("the scheduled db snapshot restores differently: %v", err)
	}
	if out := c.mustRun("run-due"); !strings.Contains(out, `msg="nothing due"`) {
		t.Errorf("second run-due:\n%s", out)
	}
	if len(hc.got()) != 1 {
		t.Errorf("pings after a pass with nothing due: %q", hc.got())
	}
}

// Issue 8 (and 7): a DB_START_CMD that fails during a scheduled db backup
// fails the job, loudly, and the heartbeat reports the failure.
func TestScheduledDBStartFailure(t *testing.T) {
	c := newCLI(t)
	c.scheduled(23, 24)
	hc := newPingServer(t)
	started := filepath.Join(c.dir, "started")
	c.env = append(c.env, "DB_STOP_CMD=true", "DB_START_CMD=sh -c 'touch "+started+"; exit 3'",
		"BACKUP_DAEMON_HC_URL="+hc.URL+"/ping/"+pingToken)
	code, out := c.run("run-due")
	if code != exitError {
		t.Fatalf("run-due exit %d, want %d:\n%s", code, exitError, out)
	}
	for _, want := range []string{`level=ERROR msg="job failed; it is retried at the next wake" job=db`, "the database service may be down", "DB_START_CMD",
		`msg="heartbeat sent" host=` + strings.TrimPrefix(hc.URL, "http://") + " reported=failure", `msg="job done" job=rootfs`} {
		if !strings.Contains(out, want) {
			t.Errorf("run-due output lacks %q:\n%s", want, out)
		}
	}
	if !exists(started) {
		t.Error("DB_START_CMD did not run")
	}
	if got := hc.got(); !slices.Equal(got, []string{"/ping/" + pingToken + "/fail"}) {
		t.Errorf("pings %q, want one failure", got)
	}
	s := c.status()
	if j := s.job("db"); j.Result != daemon.ResultFailed || !strings.Contains(j.Error, "DB_START_CMD") || !j.LastSuccess.IsZero() {
		t.Errorf("db: %+v", j)
	}
	if h := s.Heartbeat; h == nil || h.Reported != "failure" || h.Error != "" {
		t.Errorf("heartbeat %+v", h)
	}
	if !slices.Contains(s.DueNow, "db") {
		t.Errorf("the failed db backup is not due again: %v", s.DueNow)
	}
}

// logWatch collects a process's output and waits for lines in it.
type logWatch struct {
	mu   sync.Mutex
	text strings.Builder
	more chan struct{}
}

func watchLog(r io.Reader) *logWatch {
	w := &logWatch{more: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			w.mu.Lock()
			w.text.WriteString(sc.Text() + "\n")
			w.mu.Unlock()
			select {
			case w.more <- struct{}{}:
			default:
			}
		}
		close(w.more)
	}()
	return w
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.text.String()
}

// waitFor waits until the output holds s; false if it ended first.
func (w *logWatch) waitFor(s string) bool {
	for {
		if strings.Contains(w.String(), s) {
			return true
		}
		if _, ok := <-w.more; !ok {
			return strings.Contains(w.String(), s)
		}
	}
}

// waitForN waits until the output holds s n times; false if it ended
// first.
func (w *logWatch) waitForN(s string, n int) bool {
	for {
		if strings.Count(w.String(), s) >= n {
			return true
		}
		if _, ok := <-w.more; !ok {
			return strings.Count(w.String(), s) >= n
		}
	}
}

// startDaemon starts "pocketsnap daemon" in a process group of its own,
// its output watched.
func (c *cli) startDaemon() (*processGroup, *logWatch) {
	c.t.Helper()
	cmd := c.command("daemon")
	pr, pw, err := os.Pipe()
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	pg := startGroup(c.t, cmd)
	pw.Close()
	return pg, watchLog(pr)
}

// stop sends SIGTERM to the daemon and returns its exit code.
func (p *processGroup) stop() int {
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	return p.cmd.ProcessState.ExitCode()
}

// Issue 7, acceptance 5: while the daemon runs a job, every one of its
// threads is at nice 19 in the idle I/O class. Issue 18.12: the command
// the job started (DB_STOP_CMD here, which blocks until SIGTERM) is not:
// it runs from the hook helper, a child started before the priority was
// lowered.
func TestDaemonJobPriorities(t *testing.T) {
	c := newCLI(t)
	c.scheduled(25, 26)
	marker := filepath.Join(c.dir, "stopping")
	c.env = append(c.env, "ENABLE_BACKUP_DAEMON=true", "DB_STOP_CMD=sh -c 'touch "+marker+"; exec sleep 60'", "DB_START_CMD=true")
	pg, log := c.startDaemon()
	defer pg.kill()
	if !log.waitFor(`msg="job started" job=db`) {
		t.Fatalf("the daemon ended before the db job:\n%s", log)
	}
	if strings.Contains(log.String(), "could not lower every priority") {
		testenv.Unavailable(t, "this system does not let a process lower its priorities:\n%s", log)
	}
	for !exists(marker) {
		time.Sleep(5 * time.Millisecond)
	}
	pid := pg.cmd.Process.Pid
	helpers := children(t, pid)
	if len(helpers) != 1 {
		t.Fatalf("the daemon has children %v, want the hook helper", helpers)
	}
	stops := children(t, helpers[0])
	if len(stops) != 1 {
		t.Fatalf("the hook helper has children %v, want the stop command", stops)
	}
	self := normalPriority(t)
	for _, p := range []struct {
		what string
		pid  int
		idle bool
	}{{"daemon", pid, true}, {"hook helper", helpers[0], false}, {"DB_STOP_CMD", stops[0], false}} {
		threads, err := idle.Threads(p.pid)
		if err != nil {
			t.Fatal(err)
		}
		if p.what == "daemon" && len(threads) < 2 {
			t.Errorf("the daemon has %d threads", len(threads))
		}
		for _, th := range threads {
			if p.idle && (th.Nice != idle.Nice || th.IOClass != idle.ClassIdle) {
				t.Errorf("%s thread %d: nice %d, I/O class %d; want %d and %d", p.what, th.TID, th.Nice, th.IOClass, idle.Nice, idle.ClassIdle)
			}
			if !p.idle && (th.Nice != self[0].Nice || th.IOClass == idle.ClassIdle) {
				t.Errorf("%s thread %d: nice %d, I/O class %d; want the test's nice %d and not the idle class", p.what, th.TID, th.Nice, th.IOClass, self[0].Nice)
			}
		}
	}
	// Issue 21.6: status says what priority the daemon really has.
	if out := c.mustRun("status"); !regexp.MustCompile(`(?m)^priority +nice 19, idle I/O class$`).MatchString(out) {
		t.Errorf("status does not show the daemon's priority:\n%s", out)
	}
	if code := pg.stop(); code != 0 {
		t.Errorf("daemon exit %d after SIGTERM:\n%s", code, log)
	}
	if !strings.Contains(log.String(), `msg="job interrupted; it runs again at the next start or wake" job=db`) {
		t.Errorf("the interrupted job is not logged:\n%s", log)
	}
}

// Issue 18.12: run as an unprivileged user (who cannot raise a priority
// once lowered), a scheduled backup whose DB_START_CMD launches the
// homeserver itself, in the background, leaves it at the priority
// pocketsnap was started with, not at nice 19 in the idle I/O class.
func TestStartCommandLaunchesAtNormalPriority(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run pocketsnap as the user nobody")
	}
	c := newCLI(t)
	db, _ := c.scheduled(27, 28)
	os.RemoveAll(filepath.Join(db, "special")) // staging takes no FIFO
	c.asNobody()
	pidFile := filepath.Join(c.dir, "data", "homeserver.pid")
	c.env = append(c.env, "DB_STOP_CMD=true",
		"DB_START_CMD=sh -c 'sleep 300 </dev/null >/dev/null 2>&1 & echo $! > "+pidFile+"'")
	out := c.mustRun("run-due")
	if strings.Contains(out, "could not lower every priority") {
		testenv.Unavailable(t, "this system does not let a process lower its priorities:\n%s", out)
	}
	if !strings.Contains(out, "running at idle priority") {
		t.Fatalf("run-due did not lower its priority:\n%s", out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the start command did not run: %v\n%s", err, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("the homeserver (pid %d) is gone: %v", pid, err)
	}
	// Field 19 is the nice value; fields are counted from the pid, and
	// the command name (field 2) is in parentheses.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	nice, _ := strconv.Atoi(f[19-3])
	threads, err := idle.Threads(pid)
	if err != nil {
		t.Fatal(err)
	}
	self := normalPriority(t)
	if nice != self[0].Nice || threads[0].Nice != nice {
		t.Errorf("the homeserver runs at nice %d (/proc: %d), want %d as pocketsnap was started", threads[0].Nice, nice, self[0].Nice)
	}
	if threads[0].IOClass == idle.ClassIdle {
		t.Errorf("the homeserver runs in the idle I/O class")
	}
	if st, _ := os.Stat(pidFile); st != nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Uid != 65534 {
			t.Errorf("the start command did not run as nobody")
		}
	}
}

// normalPriority returns the test's own priorities, which the service
// commands must keep; it skips a test run at idle priority itself, where
// they cannot be told from the daemon's.
func normalPriority(t *testing.T) []idle.Thread {
	t.Helper()
	self, err := idle.Threads(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if self[0].Nice == idle.Nice || self[0].IOClass == idle.ClassIdle {
		t.Skipf("the test runs at nice %d, I/O class %d: the idle priority itself", self[0].Nice, self[0].IOClass)
	}
	return self
}

// children lists the processes whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// Issue 7, acceptance 6: SIGTERM at random moments of a scheduled db
// backup stops the daemon cleanly (exit 0, the job recorded as
// interrupted), leaves a repository that check --read-data accepts and
// whose earlier snapshot restores, and releases the locks: their holder
// records are cleared, which only an orderly release does (a killed
// process leaves its pid).
func TestDaemonSIGTERMDuringBackup(t *testing.T) {
	c := newCLI(t)
	c.bin = buildBinary(t) // as users run it, not ten times slower with -race
	db, rootfs := c.scheduled(27, 28)
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 6 {
		writeRandom(t, filepath.Join(db, "bulk", strconv.Itoa(i)+".sst"), 8<<20, r)
	}
	c.env = append(c.env, "ENABLE_BACKUP_DAEMON=true")
	base := c.env

	start := time.Now()
	c.env = append(base, "BACKUP_REPO="+filepath.Join(c.dir, "measure"))
	c.mustRun("backup", "db", "--no-rotate")
	full := time.Since(start)

	interrupted, i := 0, 0
	for ; interrupted < 3; i++ {
		if i == 12 {
			t.Fatalf("only %d of 12 SIGTERMs landed during the backup", interrupted)
		}
		repo := filepath.Join(c.dir, "repo-"+strconv.Itoa(i))
		c.env = append(base, "BACKUP_REPO="+repo)
		c.mustRun("backup", "rootfs") // the earlier snapshot; db is due
		pg, log := c.startDaemon()
		if !log.waitFor(`msg="job started" job=db`) {
			pg.kill()
			t.Fatalf("the daemon ended before the db job:\n%s", log)
		}
		time.Sleep(time.Duration(r.Int64N(int64(full))))
		if code := pg.stop(); code != 0 {
			t.Fatalf("daemon exit %d after SIGTERM:\n%s", code, log)
		}
		if !strings.Contains(log.String(), `msg="job interrupted; it runs again at the next start or wake" job=db`) {
			continue // the backup finished first
		}
		interrupted++
		for _, lock := range []string{"lock", "daemon.lock"} {
			if b, err := os.ReadFile(filepath.Join(repo, "local", lock)); err != nil || len(b) != 0 {
				t.Errorf("SIGTERM %d: local/%s holds %q (%v), want an empty, released lock", i, lock, b, err)
			}
		}
		if code, out := c.run("check", "--read-data", "--lock-wait", "0"); code != 0 {
			t.Fatalf("SIGTERM %d: check --read-data exit %d:\n%s", i, code, out)
		}
		if j := c.status().job("db"); j.Result != daemon.ResultInterrupted {
			t.Errorf("SIGTERM %d: db %+v", i, j)
		}
		target := filepath.Join(c.dir, "restored")
		c.mustRun("restore", c.snapshotList()[0].Name, "--target", target)
		if err := testtree.Compare(rootfs, target, testtree.Options{}); err != nil {
			t.Fatalf("SIGTERM %d: the earlier snapshot restores differently: %v", i, err)
		}
		os.RemoveAll(target)
	}
	t.Logf("%d of %d SIGTERMs landed during the backup (a full one takes %s)", interrupted, i, full)
	// The last repository goes on: the next pass backs db up.
	out := c.mustRun("run-due")
	if !strings.Contains(out, `msg="job done" job=db`) {
		t.Fatalf("run-due after the SIGTERMs:\n%s", out)
	}
	c.mustRun("check", "--read-data")
}

// The daemon re-reads its env file on SIGHUP: a new wake hour is used at
// once, a bad value is refused (the old one kept), and
// ENABLE_BACKUP_DAEMON no longer true stops it with exit 0. A second
// daemon for the same repository is refused with exit 4 meanwhile.
func TestDaemonSIGHUP(t *testing.T) {
	c := newCLI(t)
	c.scheduled(29, 30)
	envFile := filepath.Join(c.dir, "env")
	const hour = 16 // not the default 4
	write := func(text string) {
		if err := os.WriteFile(envFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ENABLE_BACKUP_DAEMON=true\n")
	c.env = append(c.env, "POCKETSNAP_ENV_FILE="+envFile) // after /dev/null: the later one counts
	c.env = slices.DeleteFunc(c.env, func(kv string) bool { return strings.HasPrefix(kv, "BACKUP_DAEMON_HOUR=") })
	pg, log := c.startDaemon()
	defer pg.kill()
	if !log.waitFor(`msg=sleeping`) {
		t.Fatalf("the daemon did not go to sleep:\n%s", log)
	}
	if code, out := c.run("daemon"); code != exitLocked || !strings.Contains(out, "a daemon already runs for this repository: locked by pid "+strconv.Itoa(pg.cmd.Process.Pid)) {
		t.Errorf("a second daemon: exit %d\n%s", code, out)
	}

	write("ENABLE_BACKUP_DAEMON=true\nBACKUP_DAEMON_HOUR=" + strconv.Itoa(hour) + "\n")
	pg.cmd.Process.Signal(syscall.SIGHUP)
	if !log.waitFor(fmt.Sprintf(`T%02d:00:00Z then=`, hour)) {
		t.Fatalf("no sleep until the new hour %d:\n%s", hour, log)
	}
	if !strings.Contains(log.String(), `msg="configuration reloaded"`) {
		t.Errorf("the reload is not logged:\n%s", log)
	}

	write("ENABLE_BACKUP_DAEMON=true\nBACKUP_DB_CADENCE=hourly\n")
	pg.cmd.Process.Signal(syscall.SIGHUP)
	if !log.waitFor(`level=ERROR msg="configuration not reloaded" error="BACKUP_DB_CADENCE (` + envFile + `): \"hourly\" is not a cadence`) {
		t.Fatalf("a bad value is not refused:\n%s", log)
	}

	// Issue 18.14: turned off, it stops its schedule, releases the
	// repository and waits; turned on again, it starts again.
	write("ENABLE_BACKUP_DAEMON=false\n")
	pg.cmd.Process.Signal(syscall.SIGHUP)
	if !log.waitFor(`msg="the daemon is off: waiting for SIGHUP (re-read the settings) or SIGTERM" why="ENABLE_BACKUP_DAEMON is \"false\" (` + envFile + `)"`) {
		t.Fatalf("the daemon does not wait once off:\n%s", log)
	}
	if !strings.Contains(log.String(), `msg="the daemon is now off: stopping the schedule"`) {
		t.Errorf("the stop is not explained:\n%s", log)
	}
	if code, out := c.run("status", "--json"); code != 0 || strings.Contains(out, `"running":{`) {
		t.Errorf("the daemon still holds its lock while off: exit %d\n%s", code, out)
	}
	write("ENABLE_BACKUP_DAEMON=1\n")
	pg.cmd.Process.Signal(syscall.SIGHUP)
	if !log.waitForN(`msg="daemon started"`, 2) {
		t.Fatalf("ENABLE_BACKUP_DAEMON=1 after SIGHUP did not start it again:\n%s", log)
	}
	if code := pg.stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, log)
	}
}

// Issue 18.14: a disabled daemon says so once and stays up (a supervisor
// such as runit would restart an exited one every second, forever), until
// SIGTERM (exit 0) or a SIGHUP that finds it enabled. Issue 18.15: it and
// "pocketsnap config" agree that ENABLE_BACKUP_DAEMON=1 is on.
func TestDisabledDaemonWaits(t *testing.T) {
	c := newCLI(t)
	c.scheduled(31, 32)
	envFile := filepath.Join(c.dir, "env")
	write := func(text string) {
		if err := os.WriteFile(envFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ENABLE_BACKUP_DAEMON=off\n")
	c.env = append(c.env, "POCKETSNAP_ENV_FILE="+envFile)

	const waiting = `msg="the daemon is off: waiting for SIGHUP (re-read the settings) or SIGTERM"`
	pg, log := c.startDaemon()
	defer pg.kill()
	if !log.waitFor(waiting) {
		t.Fatalf("the disabled daemon did not say it waits:\n%s", log)
	}
	if code := pg.stop(); code != 0 {
		t.Errorf("a disabled daemon exits %d on SIGTERM, want 0:\n%s", code, log)
	}
	if n := strings.Count(log.String(), "the daemon is off"); n != 1 {
		t.Errorf("said %d times that it is off, want once:\n%s", n, log)
	}

	pg, log = c.startDaemon()
	defer pg.kill()
	if !log.waitFor(waiting) {
		t.Fatalf("the disabled daemon did not say it waits:\n%s", log)
	}
	// Still off after a SIGHUP: it says so again and keeps waiting.
	pg.cmd.Process.Signal(syscall.SIGHUP)
	if !log.waitForN(waiting, 2) {
		t.Fatalf("the daemon ended after a SIGHUP that found it still off:\n%s", log)
	}
	write("ENABLE_BACKUP_DAEMON=1\n")
	// DATA_DIR does not exist, and config says so: read its summary.
	_, out := c.run("config", "--json")
	var sum configSummary
	_, line, _ := strings.Cut(out, `{"message_type":"summary"`)
	line, _, _ = strings.Cut(line, "\n")
	if err := json.Unmarshal([]byte(`{"message_type":"summary"`+line), &sum); err != nil {
		t.Fatalf("config --json: %v\n%s", err, out)
	}
	if !slices.Contains(sum.Values, configValue{Key: "ENABLE_BACKUP_DAEMON", Value: "1", Source: envFile}) {
		t.Errorf("config does not show ENABLE_BACKUP_DAEMON=1 from %s:\n%s", envFile, out)
	}
	for _, p := range sum.Problems {
		if p.Key == "ENABLE_BACKUP_DAEMON" {
			t.Errorf("config finds ENABLE_BACKUP_DAEMON=1 wrong: %s", p)
		}
	}
	pg.cmd.Process.Signal(syscall.SIGHUP)
	if !log.waitFor(`msg="daemon started"`) || !log.waitFor("msg=sleeping") {
		t.Fatalf("ENABLE_BACKUP_DAEMON=1 did not start the daemon:\n%s", log)
	}
	if code := pg.stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, log)
	}
}
