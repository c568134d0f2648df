package hooks

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSplit(t *testing.T) {
	for in, want := range map[string][]string{
		"":                                  nil,
		"  systemctl  stop conduwuit ":      {"systemctl", "stop", "conduwuit"},
		`sh -c 'sv down a && sv down b'`:    {"sh", "-c", "sv down a && sv down b"},
		`echo "a \"b\" \$c" d\ e`:           {"echo", `a "b" $c`, "d e"},
		`x''y ""`:                           {"xy", ""},
		"scripts/ops/panic-hard.sh --quiet": {"scripts/ops/panic-hard.sh", "--quiet"},
	} {
		got, err := split(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("split(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`'open`, `"open`, `trailing\`} {
		if _, err := split(bad); err == nil {
			t.Errorf("split(%q) accepted", bad)
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
	// No shell: metacharacters are plain arguments.
	var out bytes.Buffer
	echo, _ := Parse("X", "echo $HOME; ls")
	if err := echo.Run(context.Background(), &out, time.Minute); err != nil || !strings.Contains(out.String(), "$HOME; ls") {
		t.Fatalf("echo without a shell: %q %v", out.String(), err)
	}
	if err := (Command{}).Run(context.Background(), &out, time.Minute); err != nil {
		t.Fatal("an unset command must be a no-op")
	}
}
