package hooks

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// Issue 19: hook commands are split by a maintained shell parser, and
// what a simple command cannot hold is refused, never run as words.
func TestParse(t *testing.T) {
	t.Setenv("POCKETSNAP_HOOK_TEST", "conduwuit")
	for in, want := range map[string][]string{
		"":                                  nil,
		"  systemctl  stop conduwuit ":      {"systemctl", "stop", "conduwuit"},
		`sh -c 'sv down a && sv down b'`:    {"sh", "-c", "sv down a && sv down b"},
		`echo "a \"b\" \$c" d\ e`:           {"echo", `a "b" $c`, "d e"},
		`x''y ""`:                           {"xy", ""},
		"scripts/ops/panic-hard.sh --quiet": {"scripts/ops/panic-hard.sh", "--quiet"},
		"sv stop $POCKETSNAP_HOOK_TEST":     {"sv", "stop", "conduwuit"},
	} {
		c, err := Parse("DB_STOP_CMD", in)
		if err != nil || !slices.Equal(c.Args, want) {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, c.Args, err, want)
		}
	}
	for _, bad := range []string{`'open`, `"open`, `sv stop a && sv stop b`, `kill $(cat pid)`, `sv stop a > log`, `a | b`} {
		if _, err := Parse("DB_STOP_CMD", bad); err == nil || !strings.Contains(err.Error(), "DB_STOP_CMD") {
			t.Errorf("Parse(%q) = %v, want an error naming the key", bad, err)
		}
	}
}

func TestRunLogsOutputAndFailures(t *testing.T) {
	var log bytes.Buffer
	c, _ := Parse("STACK_STOP_CMD", `sh -c 'echo stopping; echo oops >&2'`)
	if err := c.Run(context.Background(), &log, time.Minute); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "[STACK_STOP_CMD] stopping") || !strings.Contains(log.String(), "[STACK_STOP_CMD] oops") {
		t.Fatalf("log = %q", log.String())
	}
	fail, _ := Parse("STACK_START_CMD", "sh -c 'exit 3'")
	if err := fail.Run(context.Background(), &log, time.Minute); err == nil || !strings.Contains(err.Error(), "STACK_START_CMD (sh -c exit 3) failed: exit status 3") {
		t.Fatalf("failing command: %v", err)
	}
	slow, _ := Parse("DB_STOP_CMD", "sleep 5")
	if err := slow.Run(context.Background(), &log, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not finish within") {
		t.Fatalf("slow command: %v", err)
	}
	// No shell runs the command: a variable is expanded as the shell
	// would, and a list is refused rather than passed on as arguments.
	var out bytes.Buffer
	t.Setenv("POCKETSNAP_HOOK_TEST", "a b")
	echo, _ := Parse("X", `echo "$POCKETSNAP_HOOK_TEST" '$HOME'`)
	if err := echo.Run(context.Background(), &out, time.Minute); err != nil || !strings.Contains(out.String(), "a b $HOME") {
		t.Fatalf("echo: %q %v", out.String(), err)
	}
	if _, err := Parse("X", "echo $HOME; ls"); err == nil {
		t.Fatal("a list was accepted as a command")
	}
	if err := (Command{}).Run(context.Background(), &out, time.Minute); err != nil {
		t.Fatal("an unset command must be a no-op")
	}
}
