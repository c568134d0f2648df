// Package proc starts external commands in a process group of their own,
// so that a deadline or a cancellation kills the command and everything it
// started, not only its first process.
//
// A command that hangs (a Termux:API command whose app is missing waits
// for ever) or that leaves a child holding its output open must never hold
// pocketsnap up past its deadline.
//
// The API is not stable before v1.
package proc

import (
	"errors"
	"os/exec"
	"syscall"
	"time"
)

// WaitDelay is how long Wait waits for the command's output to close once
// the command itself has exited: a command that starts a service in the
// background leaves the service holding its output.
const WaitDelay = 2 * time.Second

// Group makes cmd, made by [exec.CommandContext], start in a process group
// of its own, and the end of its context kill that whole group.
func Group(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = WaitDelay
}

// Exited reports the error of a finished command, but for
// [exec.ErrWaitDelay]: a command that exited 0 and left a background
// process holding its output succeeded.
func Exited(err error) error {
	if errors.Is(err, exec.ErrWaitDelay) {
		return nil
	}
	return err
}
