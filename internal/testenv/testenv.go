// Package testenv decides what a test does when a tool it needs is
// missing: skip on a developer's machine, fail in CI (CI=true), where a
// skipped integration test would hide a missing install step.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// CI reports whether the tests run in CI.
func CI() bool { return os.Getenv("CI") == "true" }

// NeedTools skips (or, in CI, fails) the test unless every command is on
// PATH.
func NeedTools(t testing.TB, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			Unavailable(t, "%s is not installed (make test installs it)", c)
		}
	}
}

// Unavailable skips the test, or fails it in CI.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf("CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

// Ended reports whether process pid has ended (is gone, or a zombie
// waiting for its parent) within d. A process sent SIGKILL takes a
// moment to die.
func Ended(pid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || bytes.Contains(stat, []byte(") Z ")) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
