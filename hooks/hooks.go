// Package hooks runs the service commands configured around a backup or a
// restore (stop the stack, start it again), without a shell and with their
// output logged.
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
)

// Command is a configured command.
type Command struct {
	// Key names the setting the command came from, e.g. STACK_STOP_CMD.
	Key  string
	Args []string
}

// Parse splits a configured value into a Command. An empty value gives a
// Command with no Args, which Run treats as nothing to do.
func Parse(key, value string) (Command, error) {
	args, err := split(value)
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
// timeout.
func (c Command) Run(ctx context.Context, log io.Writer, timeout time.Duration) error {
	if !c.Set() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintf(log, "  [%s] %s\n", c.Key, sc.Text())
		}
		io.Copy(io.Discard, pr)
	})
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%s (%s) did not finish within %s", c.Key, c, timeout)
	}
	if err != nil {
		return fmt.Errorf("%s (%s) failed: %w", c.Key, c, err)
	}
	return nil
}

// split breaks a command line into words with shell-like quoting.
func split(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
