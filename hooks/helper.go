package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Helper is a child process that runs commands for its parent, so that
// they start at the priority the parent had when it started the helper.
// Its methods are safe for concurrent use; it runs one command at a time.
type Helper struct {
	mu   sync.Mutex // one command at a time
	wmu  sync.Mutex // one message at a time
	cmd  *exec.Cmd
	in   io.WriteCloser
	enc  *json.Encoder
	dec  *json.Decoder
	next int // the ID of the next command
}

// request is a message from the parent: a command to run, or the
// cancellation of the running one.
type request struct {
	// ID numbers the commands, so that a late cancellation never reaches
	// the next one.
	ID        int           `json:"id"`
	Key       string        `json:"key,omitempty"`
	Args      []string      `json:"args,omitempty"`
	Timeout   time.Duration `json:"timeout,omitempty"`
	Cancelled bool          `json:"cancelled,omitempty"`
}

// reply is a message from the helper: a line of the command's output, or
// its end.
type reply struct {
	Line  *string `json:"line,omitempty"`
	Done  bool    `json:"done,omitempty"`
	Error string  `json:"error,omitempty"`
}

// errHelperGone says that the helper could not take a command.
var errHelperGone = errors.New("the command helper is gone")

// StartHelper starts name with args, a program that calls [Serve] (the
// running program itself, with the argument that makes it serve). The
// helper ends with its parent: when Close is called, or the parent dies.
func StartHelper(name string, args ...string) (*Helper, error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start the command helper: %w", err)
	}
	return &Helper{cmd: cmd, in: in, enc: json.NewEncoder(in), dec: json.NewDecoder(out)}, nil
}

// PID is the helper's process ID.
func (h *Helper) PID() int { return h.cmd.Process.Pid }

// Close ends the helper and waits for it.
func (h *Helper) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.in.Close()
	err := h.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil // it was already gone: Run fell back
	}
	return err
}

// run has the helper run c, and returns errHelperGone when it cannot take
// it. Cancelling ctx kills the command.
func (h *Helper) run(ctx context.Context, c Command, log io.Writer, timeout time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	id := h.next
	if err := h.send(request{ID: id, Key: c.Key, Args: c.Args, Timeout: timeout}); err != nil {
		return fmt.Errorf("%w (pid %d): %v", errHelperGone, h.PID(), err)
	}
	stop := context.AfterFunc(ctx, func() { h.send(request{ID: id, Cancelled: true}) })
	defer stop()
	for {
		var r reply
		if err := h.dec.Decode(&r); err != nil {
			return fmt.Errorf("%s (%s): the command helper (pid %d) ended while the command ran: %w", c.Key, c, h.PID(), err)
		}
		if r.Line != nil {
			fmt.Fprintf(log, "  [%s] %s\n", c.Key, *r.Line)
		}
		if r.Done {
			if r.Error != "" {
				return errors.New(r.Error)
			}
			return nil
		}
	}
}

func (h *Helper) send(r request) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return h.enc.Encode(r)
}

// Serve is the helper's side: it runs each command read from in, one at a
// time, writing its output and its end to out, until in ends. A
// cancellation of the running command kills it; the end of in does not. Serve takes no
// context: a start command must finish even while the parent is being
// stopped.
func Serve(in io.Reader, out io.Writer) error {
	reqs := make(chan request)
	readErr := make(chan error, 1)
	go func() {
		dec := json.NewDecoder(in)
		for {
			var r request
			if err := dec.Decode(&r); err != nil {
				readErr <- err
				close(reqs)
				return
			}
			reqs <- r
		}
	}()
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	send := func(r reply) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(r)
	}
	for r := range reqs {
		if r.Cancelled || len(r.Args) == 0 {
			continue // a cancellation that came after its command ended
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		c := Command{Key: r.Key, Args: r.Args}
		go func() { done <- c.run(ctx, r.Timeout, func(l string) { send(reply{Line: &l}) }) }()
		var err error
	wait:
		for {
			select {
			case err = <-done:
				break wait
			case next, ok := <-reqs:
				if !ok {
					reqs = nil // the parent is gone: finish, then stop
				} else if next.Cancelled && next.ID == r.ID {
					cancel()
				}
			}
		}
		cancel()
		rep := reply{Done: true}
		if err != nil {
			rep.Error = err.Error()
		}
		send(rep)
		if reqs == nil {
			break
		}
	}
	if err := <-readErr; !errors.Is(err, io.EOF) {
		return fmt.Errorf("command helper: %w", err)
	}
	return nil
}
