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
	"syscall"

	"github.com/pocketsnap/pocketsnap/hooks"
	"github.com/pocketsnap/pocketsnap/internal/memlimit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if os.Getenv("GOMEMLIMIT") == "" {
		go memlimit.Adapt(ctx, memlimit.Floor)
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
