package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// dbBench runs db_bench on the database dir with small memtables, so that
// it writes SSTs.
func dbBench(t *testing.T, db string, args ...string) {
	t.Helper()
	args = append([]string{"--db=" + db, "--num=20000", "--write_buffer_size=65536", "--compression_type=none"}, args...)
	if out, err := exec.Command("db_bench", args...).CombinedOutput(); err != nil {
		t.Fatalf("db_bench %v: %v\n%s", args, err, out)
	}
}

// ldbKeys checks a database's consistency and returns its number of keys.
func ldbKeys(t *testing.T, db string) int {
	t.Helper()
	if out, err := exec.Command("ldb", "--db="+db, "checkconsistency").CombinedOutput(); err != nil {
		t.Fatalf("ldb checkconsistency %s: %v\n%s", db, err, out)
	}
	out, err := exec.Command("ldb", "--db="+db, "scan").Output()
	if err != nil {
		t.Fatalf("ldb scan %s: %v", db, err)
	}
	return strings.Count(string(out), "\n")
}

// Acceptance 1 and 2: a RocksDB directory written to by a live db_bench,
// stopped by DB_STOP_CMD and restarted by DB_START_CMD, restores to a
// consistent database holding the keys present at the stop, and its
// staged stream equals the direct stream of the stopped directory.
func TestDBStagingRocksDB(t *testing.T) {
	testenv.NeedTools(t, "db_bench", "ldb")
	c := newCLI(t)
	db, stopped, pid := filepath.Join(c.dir, "db"), filepath.Join(c.dir, "stopped"), filepath.Join(c.dir, "writer.pid")
	dbBench(t, db, "--benchmarks=fillrandom")
	writer := fmt.Sprintf("db_bench --db=%s --use_existing_db=1 --benchmarks=overwrite --num=20000 --write_buffer_size=65536 --compression_type=none --duration=20 >/dev/null 2>&1 & echo $! >%s", db, pid)
	// The stop command kills the writer, waits until it is gone (or a
	// zombie) and keeps a copy of the stopped directory.
	stop := fmt.Sprintf(`p=$(cat %s); kill $p; while [ -d /proc/$p ] && ! grep -q '^State:.*Z' /proc/$p/status; do sleep 0.01; done; cp -a %s %s`, pid, db, stopped)
	if out, err := exec.Command("sh", "-c", writer).CombinedOutput(); err != nil {
		t.Fatalf("starting the writer: %v\n%s", err, out)
	}
	time.Sleep(300 * time.Millisecond)
	out := c.mustRun("backup", "db", "--source", db, "--db-stop-cmd", "sh -c '"+stop+"'", "--db-start-cmd", "sh -c '"+writer+"'")
	t.Cleanup(func() { exec.Command("sh", "-c", "kill $(cat "+pid+")").Run() })
	if !strings.Contains(out, "database stopped for") || strings.Contains(out, " 0 files hard-linked") {
		t.Fatalf("backup output:\n%s", out)
	}
	snap := c.snapshots()[0]
	c.mustRun("backup", "db", "--source", stopped, "--force-read") // the same kind: the same stream root
	if a, b := c.streamDigest(snap), c.streamDigest(c.snapshots()[1]); a != b {
		t.Fatalf("staged stream %s, stopped directory's %s", a, b)
	}
	restored := filepath.Join(c.dir, "restored")
	c.mustRun("restore", snap, "--target", restored)
	want, got := ldbKeys(t, stopped), ldbKeys(t, restored)
	if got != want || got == 0 {
		t.Fatalf("restored database has %d keys, the stopped one %d", got, want)
	}
	t.Logf("%d keys restored; %s", got, out)
	if list := c.mustRun("snapshots", "--kind", "db", "--json"); !strings.Contains(list, `"downtime_ms"`) {
		t.Errorf("snapshots does not show the downtime:\n%s", list)
	}
}

// hookedDB returns a small database directory and the stop and start flags
// of commands that leave marker files.
func hookedDB(t *testing.T, c *cli) (db, started string, flags []string) {
	t.Helper()
	db, started = filepath.Join(c.dir, "db"), filepath.Join(c.dir, "started")
	r := rand.New(rand.NewPCG(5, 6))
	writeRandom(t, filepath.Join(db, "000011.sst"), 64<<10, r)
	writeRandom(t, filepath.Join(db, "CURRENT"), 16, r)
	return db, started, []string{"--source", db, "--db-stop-cmd", "touch " + filepath.Join(c.dir, "stopping"), "--db-start-cmd", "touch " + started}
}

// Acceptance 3: a failing stage still starts the database, fails the
// backup and leaves no staging directory.
func TestDBStartAfterFailedStage(t *testing.T) {
	c := newCLI(t)
	db, started, flags := hookedDB(t, c)
	if err := unix.Mkfifo(filepath.Join(db, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := c.run(append([]string{"backup", "db"}, flags...)...)
	if code == 0 || !strings.Contains(out, "unsupported file type") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !exists(started) {
		t.Fatal("DB_START_CMD did not run after the failed stage")
	}
	if left, _ := filepath.Glob(db + ".pocketsnap-staging-*"); len(left) != 0 {
		t.Fatalf("staging left behind: %v", left)
	}
}

// A failing start command fails the backup loudly.
func TestDBFailingStartFails(t *testing.T) {
	c := newCLI(t)
	_, _, flags := hookedDB(t, c)
	flags[len(flags)-1] = "false"
	code, out := c.run(append([]string{"backup", "db"}, flags...)...)
	if code == 0 || !strings.Contains(out, "DB_START_CMD (false) failed") || len(c.snapshots()) != 0 {
		t.Fatalf("exit %d, snapshots %v:\n%s", code, c.snapshots(), out)
	}
}

// Acceptance 3: SIGTERM during staging starts the database again.
func TestDBStartAfterSIGTERM(t *testing.T) {
	c := newCLI(t)
	c.bin = buildBinary(t) // handles signals as installed
	db, started, flags := hookedDB(t, c)
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 3000 {
		writeRandom(t, filepath.Join(db, fmt.Sprintf("%06d.log", i)), 32<<10, r)
	}
	cmd := c.command(append([]string{"backup", "db"}, flags...)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for !exists(filepath.Join(c.dir, "stopping")) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if err == nil || !strings.Contains(out.String(), "staging of") || !exists(started) {
		t.Fatalf("SIGTERM during staging: %v, started %v:\n%s", err, exists(started), out.String())
	}
	if left, _ := filepath.Glob(db + ".pocketsnap-staging-*"); len(left) != 0 {
		t.Fatalf("staging left behind: %v", left)
	}
}

// Acceptance 4: a staging directory left by a crash is removed by the next
// run; without a stop command the backup warns and reads the directory.
func TestDBStaleStagingAndUnstopped(t *testing.T) {
	c := newCLI(t)
	db, _, flags := hookedDB(t, c)
	stale := db + ".pocketsnap-staging-20260101T000000.000000000Z"
	if err := os.MkdirAll(filepath.Join(stale, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := c.mustRun(append([]string{"backup", "db"}, flags...)...)
	if !strings.Contains(out, "removed the staging directory "+stale) || exists(stale) {
		t.Fatalf("stale staging not removed:\n%s", out)
	}
	if out := c.mustRun("backup", "db", "--source", db); !strings.Contains(out, "may be inconsistent") {
		t.Fatalf("no warning without DB_STOP_CMD:\n%s", out)
	}
	if code, out := c.run("backup", "notes", "--source", db, "--db-stop-cmd", "true"); code == 0 {
		t.Fatalf("--db-stop-cmd accepted for another kind:\n%s", out)
	}
}

// Issue 17.6: SIGTERM while the stop command runs says what was
// interrupted and in what state the service is.
func TestDBSIGTERMDuringStopCommand(t *testing.T) {
	c := newCLI(t)
	c.bin = buildBinary(t) // handles signals as installed
	db, started, _ := hookedDB(t, c)
	stopping := filepath.Join(c.dir, "stopping")
	cmd := c.command("backup", "db", "--source", db,
		"--db-stop-cmd", "sh -c 'touch "+stopping+"; exec sleep 30'", "--db-start-cmd", "touch "+started)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for !exists(stopping) {
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the interrupted backup succeeded:\n%s", out.String())
	}
	want := "pocketsnap: error: backup of " + db + " failed: interrupted while DB_STOP_CMD (sh -c touch " + stopping + "; exec sleep 30) was running: it was killed before it finished; DB_START_CMD (touch " + started + ") then ran and succeeded, so the database service is running again"
	if !strings.Contains(out.String(), want) || !exists(started) {
		t.Fatalf("want %q, started %v:\n%s", want, exists(started), out.String())
	}
	if strings.Contains(out.String(), "failed: signal") {
		t.Errorf("an interruption reported as the stop command's failure:\n%s", out.String())
	}
}
