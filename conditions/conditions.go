package conditions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/proc"
)

// Network policies (OFFSITE_NETWORK).
const (
	NetworkAny  = "any"
	NetworkWifi = "wifi"
)

// Power policies (BACKUP_POWER).
const (
	PowerAny      = "any"
	PowerCharging = "charging"
)

// DefaultTimeout bounds each detector command.
const DefaultTimeout = 10 * time.Second

// Policy is what the user asked for.
type Policy struct {
	// Network is NetworkAny or NetworkWifi.
	Network string
	// WhenCmd is OFFSITE_WHEN_CMD: when set, it alone decides whether the
	// push may run (exit 0 = go).
	WhenCmd []string
	// Power is PowerAny or PowerCharging.
	Power string
	// MinBattery is the battery floor in percent, below which heavy work
	// waits unless the phone charges; 0 for none.
	MinBattery int
}

// Verdict is whether some work may run now.
type Verdict struct {
	Allowed bool `json:"allowed"`
	// Reason describes the state found, e.g. "on mobile data" or
	// "battery 18%, not charging".
	Reason string `json:"reason"`
	// Detector names what was asked: a command, a directory, a setting.
	Detector string `json:"detector"`
}

// Checker evaluates a Policy on this machine.
type Checker struct {
	Policy
	// Timeout bounds each detector command; DefaultTimeout when zero.
	Timeout time.Duration
	// PowerSupply is the sysfs directory of power supplies;
	// /sys/class/power_supply when empty.
	PowerSupply string
}

// Heavy tells whether heavy work (the rootfs backup) may run: the power
// condition.
func (c *Checker) Heavy(ctx context.Context) Verdict { return c.CheckPower(ctx) }

// Push tells whether the offsite push may run: the power condition, then
// the network condition.
func (c *Checker) Push(ctx context.Context) Verdict {
	if v := c.CheckPower(ctx); !v.Allowed {
		return v
	}
	return c.CheckNetwork(ctx)
}

// Command names of the detectors.
const (
	termuxWifi      = "termux-wifi-connectioninfo"
	termuxTelephony = "termux-telephony-deviceinfo"
	termuxBattery   = "termux-battery-status"
	nmcli           = "nmcli"
)

// errNotFound says a detector command is not installed.
var errNotFound = errors.New("not installed")

// run runs a detector command with the timeout and returns its standard
// output. Its whole process group is killed at the timeout: a Termux:API
// command waits for ever when the app is missing.
func (c *Checker) run(ctx context.Context, args ...string) ([]byte, error) {
	if _, err := exec.LookPath(args[0]); err != nil {
		return nil, fmt.Errorf("%s: %w", args[0], errNotFound)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	proc.Group(cmd)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := proc.Exited(cmd.Run())
	if ctx.Err() == context.DeadlineExceeded {
		hint := ""
		if strings.HasPrefix(args[0], "termux-") {
			hint = " (is the Termux:API app installed? 'pm path com.termux.api' says)"
		}
		return nil, fmt.Errorf("%s did not answer within %s%s", args[0], timeout, hint)
	}
	if err != nil {
		msg := bytes.TrimSpace(errb.Bytes())
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if len(msg) > 0 {
			return nil, fmt.Errorf("%s failed: %w: %s", args[0], err, msg)
		}
		return nil, fmt.Errorf("%s failed: %w", args[0], err)
	}
	return out.Bytes(), nil
}

// installed reports whether a command is on PATH.
func installed(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
