package hooks

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// TestMain makes the test binary the helper when asked to be one.
func TestMain(m *testing.M) {
	if os.Getenv("HOOKS_TEST_HELPER") == "1" {
		if err := Serve(os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func startTestHelper(t *testing.T) *Helper {
	t.Helper()
	t.Setenv("HOOKS_TEST_HELPER", "1")
	h, err := StartHelper(os.Args[0])
	os.Unsetenv("HOOKS_TEST_HELPER")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// parentOf returns the parent process ID of pid, from /proc.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// Issue 18.12: a command run through the helper is the helper's child,
// its output is logged line by line and its failure and timeout are
// reported as when run directly.
func TestHelperRunsCommands(t *testing.T) {
	h := startTestHelper(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	var log bytes.Buffer
	c, _ := Parse("DB_START_CMD", `sh -c 'echo started; echo warn >&2'`)
	c.Via = h
	if err := c.Run(context.Background(), &log, time.Minute); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "[DB_START_CMD] started\n") || !strings.Contains(log.String(), "[DB_START_CMD] warn\n") {
		t.Errorf("log = %q", log.String())
	}

	fail := Command{Key: "DB_STOP_CMD", Args: []string{"sh", "-c", "exit 3"}, Via: h}
	if err := fail.Run(context.Background(), &log, time.Minute); err == nil || !strings.Contains(err.Error(), "DB_STOP_CMD (sh -c exit 3) failed: exit status 3") {
		t.Errorf("failing command: %v", err)
	}

	// A timeout kills the command's whole process group: here a shell
	// and the sleep it started, whose parent is the helper's command.
	slow := Command{Key: "DB_STOP_CMD", Args: []string{"sh", "-c", "sleep 30 & echo $! > " + pidFile + "; wait"}, Via: h}
	os.Remove(pidFile)
	start := time.Now()
	err := slow.Run(context.Background(), &log, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 300ms") {
		t.Fatalf("slow command: %v", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("the timeout took %s", time.Since(start))
	}
	b, _ := os.ReadFile(pidFile)
	sleeper, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if sleeper == 0 {
		t.Fatalf("no pid in %s", pidFile)
	}
	if !testenv.Ended(sleeper, 10*time.Second) {
		t.Errorf("the sleep the command started (pid %d) survived the timeout", sleeper)
	}

	// Cancelling the context kills the running command; the next one
	// runs normally.
	ctx, cancel := context.WithCancel(context.Background())
	blocked := Command{Key: "DB_STOP_CMD", Args: []string{"sh", "-c", "echo $$ > " + pidFile + "; exec sleep 30"}, Via: h}
	os.Remove(pidFile)
	var pid int
	errc := make(chan error, 1)
	go func() { errc <- blocked.Run(ctx, &log, time.Minute) }()
	for {
		if b, _ := os.ReadFile(pidFile); strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := parentOf(t, pid); got != h.PID() {
		t.Errorf("the command's parent is %d, want the helper %d", got, h.PID())
	}
	cancel()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("a cancelled command succeeded")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("cancelling did not end the command")
	}
	var out bytes.Buffer
	ok := Command{Key: "X", Args: []string{"echo", "again"}, Via: h}
	if err := ok.Run(context.Background(), &out, time.Minute); err != nil || !strings.Contains(out.String(), "[X] again") {
		t.Fatalf("after a cancellation: %v %q", err, out.String())
	}
}

// Issue 18.12: when the helper is gone (killed), a command still runs,
// from the caller, and the log says so: a start command must not be
// skipped.
func TestHelperGoneFallsBack(t *testing.T) {
	h := startTestHelper(t)
	h.cmd.Process.Kill()
	h.cmd.Process.Wait()
	var log bytes.Buffer
	c := Command{Key: "DB_START_CMD", Args: []string{"echo", "up"}, Via: h}
	if err := c.Run(context.Background(), &log, time.Minute); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "the command helper is gone") || !strings.Contains(log.String(), "running it at pocketsnap's own priority") || !strings.Contains(log.String(), "[DB_START_CMD] up") {
		t.Errorf("log = %q", log.String())
	}
}
