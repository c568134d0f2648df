// Package hooks runs the service commands configured around a backup or a
// restore (stop the stack, start it again), without a shell and with their
// output logged.
//
// A process that lowers its own priority (the daemon runs at nice 19 in
// the idle I/O class) passes it on to every command it starts, and a start
// command that launches a service itself would leave the service there.
// Such a process starts a [Helper] first, a copy of itself that keeps the
// normal priority and runs the commands on its behalf ([Serve]).
//
// A command is a list of words split like a POSIX shell would split them
// (single and double quotes, backslash escapes) but never interpreted by
// one: no globbing, variables or pipes. A value that needs a shell says so
// itself: `sh -c 'systemctl stop a && systemctl stop b'`.
//
// The API is not stable before v1.
package hooks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"mvdan.cc/sh/v3/shell"

	"github.com/pocketsnap/pocketsnap/internal/proc"
)

// Command is a configured command.
type Command struct {
	// Key names the setting the command came from, e.g. STACK_STOP_CMD.
	Key  string
	Args []string
	// Via, when set, runs the command from a [Helper]: at the priority the
	// process had when it started the helper, not at its own.
	Via *Helper
}

// Parse splits a configured value into a Command as a POSIX shell splits
// one simple command into words: quotes, backslashes, $VAR from the
// environment and ~. A list, a pipe, a redirection or a command
// substitution is refused (wrap it in sh -c '...'). An empty value gives
// a Command with no Args, which Run treats as nothing to do.
func Parse(key, value string) (Command, error) {
	args, err := shell.Fields(value, nil)
	if err != nil {
		return Command{}, fmt.Errorf("%s: %w", key, err)
	}
	return Command{Key: key, Args: args}, nil
}

// Set reports whether a command is configured.
func (c Command) Set() bool { return len(c.Args) > 0 }

// String returns the command as configured, for plans and logs.
func (c Command) String() string { return strings.Join(c.Args, " ") }

// Run runs the command, copying each line of its output to log prefixed
// with the key. It fails if the command exits non-zero or runs longer than
// timeout; the command, and whatever it started in its process group, is
// then killed. Through a Helper that is gone, the command runs from this
// process instead, and log says so.
func (c Command) Run(ctx context.Context, log io.Writer, timeout time.Duration) error {
	if !c.Set() {
		return nil
	}
	if c.Via != nil {
		err := c.Via.run(ctx, c, log, timeout)
		if !errors.Is(err, errHelperGone) {
			return err
		}
		fmt.Fprintf(log, "  [%s] %v; running it at pocketsnap's own priority\n", c.Key, err)
	}
	return c.run(ctx, timeout, func(line string) { fmt.Fprintf(log, "  [%s] %s\n", c.Key, line) })
}

// run runs the command from this process, passing each line of its
// output to line.
func (c Command) run(ctx context.Context, timeout time.Duration, line func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	proc.Group(cmd)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line(sc.Text())
		}
		io.Copy(io.Discard, pr)
	})
	err := proc.Exited(cmd.Run())
	pw.Close()
	wg.Wait()
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return fmt.Errorf("%s (%s) did not finish within %s", c.Key, c, timeout)
	case context.Canceled:
		// Issue 17.6: not a failure of the command, an interruption.
		return interruptedError(fmt.Sprintf("interrupted while %s (%s) was running: it was killed before it finished", c.Key, c))
	}
	if err != nil {
		return fmt.Errorf("%s (%s) failed: %w", c.Key, c, err)
	}
	return nil
}

// interruptedError is a command killed because its context was canceled
// (a signal, a stopped job); it unwraps to context.Canceled.
type interruptedError string

func (e interruptedError) Error() string { return string(e) }

// Unwrap returns context.Canceled.
func (e interruptedError) Unwrap() error { return context.Canceled }
