package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/config"
	"github.com/pocketsnap/pocketsnap/hooks"
	"github.com/pocketsnap/pocketsnap/job"
)

// globalOptions are the flags every command takes.
type globalOptions struct {
	envFile  string
	repo     string
	quiet    bool
	json     bool
	lockWait time.Duration
	// insecureLoopback lets tests use a plain-http bucket on 127.0.0.1.
	insecureLoopback bool
}

// command describes one subcommand: its help and how to run it.
type command struct {
	name, group, summary, usage string
	// keys are the configuration keys the command reads.
	keys     []string
	examples []string
	// diagnoses marks the command that runs despite malformed lines in the
	// env file, to report them with everything else.
	diagnoses bool
	// setup registers the command's flags and returns its runner.
	setup func(fs *pflag.FlagSet) runner
}

// runner runs a command after its flags are parsed.
type runner func(ctx context.Context, e *env, args []string) error

// env is what a running command needs: its output and configuration.
type env struct {
	ui  *ui
	cfg *config.Config
	g   globalOptions
	// fromRemote makes readers read the repository in the bucket.
	fromRemote bool
	// helper, when set, runs the service commands (see startHookHelper).
	helper *hooks.Helper
	// rep, when set, takes what the commands and jobs report instead of
	// ui: the daemon's log (see reporter).
	rep job.Reporter
}

// groups are the tasks "pocketsnap --help" groups the commands by.
var groups = []string{"Set up", "Back up", "Schedule", "Inspect and verify", "Restore"}

// commands returns every command, in the order of the help.
func commands() []*command {
	return []*command{
		initCommand(), configCommand(), migrateCommand(),
		backupCommand(), rotateCommand(), pushCommand(),
		daemonCommand(), runDueCommand(), statusCommand(),
		snapshotsCommand(), lsCommand(), diffCommand(), checkCommand(), verifyArchiveCommand(), repairCommand(),
		restoreCommand(), exportCommand(),
	}
}

// lookup returns the named command, or nil.
func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (c *command) exec(ctx context.Context, u *ui, args []string) error {
	var g globalOptions
	fs, run := c.flags(&g)
	fs.SetOutput(u.stderr)
	fs.Usage = func() { fmt.Fprint(u.stdout, c.help(fs)) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageErrorf("%s: %v", c.name, err)
	}
	u.quiet = g.quiet
	u.setJSON(g.json)
	u.command = c.name
	cfg, err := loadConfig(g)
	if err == nil && !c.diagnoses {
		err = cfg.Err()
	}
	if err != nil {
		return fmt.Errorf("failed to read configuration: %w", err)
	}
	return run(ctx, &env{ui: u, cfg: cfg, g: g}, fs.Args())
}

// flags returns the command's flag set, with the flags every command
// takes set into g, and its runner.
func (c *command) flags(g *globalOptions) (*pflag.FlagSet, runner) {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.StringVar(&g.envFile, "env-file", "", "read configuration from `FILE` (default ./.env)")
	fs.StringVar(&g.repo, "repo", "", "repository `DIR` (default ${BACKUP_DIR}/repo)")
	fs.BoolVarP(&g.quiet, "quiet", "q", false, "print only errors and results")
	fs.BoolVar(&g.json, "json", false, "print JSON lines on stdout: status, warning, error, and a final summary (see the README's \"Scripting\")")
	fs.DurationVar(&g.lockWait, "lock-wait", 10*time.Minute, "wait up to `DURATION` while another process holds the repository (0: fail at once)")
	fs.BoolVar(&g.insecureLoopback, "allow-insecure-loopback", false, "allow an http:// S3_ENDPOINT on a loopback address (for tests)")
	_ = fs.MarkHidden("allow-insecure-loopback")
	run := c.setup(fs)
	fs.VisitAll(func(f *pflag.Flag) {
		if t := f.Value.Type(); t != "bool" && !strings.HasSuffix(t, "Array") && !strings.HasSuffix(t, "Slice") {
			f.Value = &onceValue{Value: f.Value}
		}
	})
	return fs, run
}

// onceValue is a flag that takes one value: given twice with different
// values it is a usage error, where the last one silently won (issue
// 18.19: a repeated --archive restored only the last archive).
type onceValue struct {
	pflag.Value
	set bool
}

func (v *onceValue) Set(s string) error {
	if v.set {
		if prev := v.Value.String(); prev != s {
			return fmt.Errorf("given twice (%q and %q): it takes one value", prev, s)
		}
	}
	v.set = true
	return v.Value.Set(s)
}

func (c *command) help(fs *pflag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pocketsnap %s — %s\n\nUsage: pocketsnap %s\n\nFlags:\n%s", c.name, c.summary, c.usage, fs.FlagUsages())
	if len(c.keys) > 0 {
		fmt.Fprintf(&b, "\nConfiguration keys (env file or environment):\n  %s\n", strings.Join(c.keys, ", "))
	}
	if len(c.examples) > 0 {
		b.WriteString("\nExamples:\n")
		for _, ex := range c.examples {
			fmt.Fprintf(&b, "  %s\n", ex)
		}
	}
	return b.String()
}
