// Command pocketsnap backs up a phone's Debian userland and Matrix database
// into a deduplicated, age-encrypted repository, and restores them.
//
// Run "pocketsnap --help" for the commands and "pocketsnap CMD --help" for
// each one's flags, configuration keys and examples.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"syscall"
	"time"

	"github.com/pocketsnap/pocketsnap/hooks"
)

// memoryLimit is the floor of the soft limit of the Go heap, unless
// GOMEMLIMIT says otherwise. A phone has little free RAM, and the
// pipeline's working set is about 35 MiB (its in-flight budget, the
// encoders' state) plus about 65 bytes per blob of the repository and 40
// per entry of the source, nearly all of it free of pointers and so cheap
// to collect: the collector need not let garbage pile up far above it.
// Measured on the 1 GiB bench tree (21,649 entries): a 54 MiB floor gives
// a 63 MiB peak RSS for 18.2 CPU-seconds, 64 MiB 73 MiB for 18.8.
const memoryLimit = 54 << 20

// adaptMemoryLimit keeps the soft heap limit at memoryLimit or 1.25 times
// the live heap, whichever is larger. A fixed limit below the live heap (a
// source of very many files) would make the collector run without pause.
func adaptMemoryLimit(ctx context.Context) {
	debug.SetMemoryLimit(memoryLimit)
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(live)
		debug.SetMemoryLimit(max(memoryLimit, int64(live[0].Value.Uint64())*5/4))
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if os.Getenv("GOMEMLIMIT") == "" {
		go adaptMemoryLimit(ctx)
	}
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code. It is
// the only place that turns errors into exit codes.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ui := &ui{stdout: stdout, stderr: stderr}
	err := dispatch(ctx, ui, args)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if !ui.json() && jsonRequested(args) {
		ui.setJSON(true) // the command line failed before its flags were read
	}
	// An incomplete snapshot's warnings have said it all.
	ui.fail(err, code, hint(err), code == exitIncomplete)
	return code
}

// jsonRequested reports whether a command line asks for --json, for errors
// met before its flags are parsed.
func jsonRequested(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--json", "--json=true":
			return true
		}
	}
	return false
}

func dispatch(ctx context.Context, ui *ui, args []string) error {
	if len(args) == 1 && args[0] == hookHelperArg {
		return hooks.Serve(os.Stdin, ui.stdout)
	}
	if len(args) == 0 {
		ui.usage()
		return usageErrorf("no command given")
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 {
			return dispatch(ctx, ui, []string{args[1], "--help"})
		}
		ui.usage()
		return nil
	case "-V", "--version", "version":
		fmt.Fprintln(ui.stdout, versionString())
		return nil
	}
	cmd := lookup(args[0])
	if cmd == nil {
		return usageErrorf("unknown command %q (see pocketsnap --help)", args[0])
	}
	return cmd.exec(ctx, ui, args[1:])
}
