package idle

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The test lowers a child process (itself, re-run), since nice 19 cannot be
// undone without privileges.
const childEnv = "IDLE_TEST_CHILD"

// TestMain is the child's body when childEnv is set: lower the priorities,
// start threads, then hold them alive and report every thread's
// priorities on stdout.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "1" {
		os.Exit(m.Run())
	}
	if err := Lower(); err != nil {
		os.Stderr.WriteString("Lower: " + err.Error() + "\n")
		os.Exit(2)
	}
	// Threads started after Lower must inherit it: goroutines locked to
	// their threads force the runtime to start new ones.
	var started, wg sync.WaitGroup
	hold := make(chan struct{})
	for range 8 {
		started.Add(1)
		wg.Go(func() {
			runtime.LockOSThread()
			started.Done()
			<-hold
		})
	}
	started.Wait()
	ts, err := Threads(os.Getpid())
	close(hold)
	wg.Wait()
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
	for _, t := range ts {
		if t.Nice != Nice || t.IOClass != ClassIdle {
			os.Stderr.WriteString("a thread is not idle\n")
			os.Exit(1)
		}
	}
	os.Stdout.WriteString(strings.Repeat("t", len(ts)))
	os.Exit(0)
}

func TestLowerEveryThread(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	if len(out) < 9 {
		t.Fatalf("the child checked %d threads, want at least 9", len(out))
	}
}

// Threads reads this process's own threads: Lower has not run here, so
// none is idle, and the main thread is listed.
func TestThreadsOfSelf(t *testing.T) {
	ts, err := Threads(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, th := range ts {
		found = found || th.TID == os.Getpid()
		if th.IOClass == ClassIdle {
			t.Errorf("thread %d is in the idle class before Lower", th.TID)
		}
	}
	if !found {
		t.Errorf("the main thread %d is not among %v", os.Getpid(), ts)
	}
}
