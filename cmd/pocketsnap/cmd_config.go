package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/config"
)

func configCommand() *command {
	var keys []string
	for _, k := range config.Keys {
		keys = append(keys, k.Name)
	}
	return &command{
		name: "config", group: "Set up",
		summary: "show the effective configuration and where each value comes from; check it",
		usage:   "config [--env-file FILE]\n\n" + keyTable(),
		keys:    keys,
		examples: []string{
			"pocketsnap config                               # ./.env (or $POCKETSNAP_ENV_FILE), the environment, the defaults",
			"pocketsnap config --env-file /sdcard/pocket.env  # check an env file before using it",
			"pocketsnap config --json | jq -r '.problems[] | \"\\(.key): \\(.problem)\"'",
		},
		diagnoses: true,
		setup:     func(fs *pflag.FlagSet) runner { return runConfig },
	}
}

// keyTable describes every key of config.Keys: its type, where it may be
// set, and what it does.
func keyTable() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tTYPE\tSET IN\tMEANING")
	for _, k := range config.Keys {
		where := "env file, environment"
		switch {
		case k.From&config.FromSecrets != 0:
			where = "secrets file"
		case k.Flag != "":
			where += ", " + k.Flag
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.Type.Name, where, k.Doc)
	}
	tw.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// configValue is one line of "pocketsnap config".
type configValue = config.Shown

// configSummary is the --json summary of "pocketsnap config".
type configSummary struct {
	EnvFile  string           `json:"env_file"`
	Values   []configValue    `json:"values"`
	Problems []config.Problem `json:"problems"`
	// Conditions says which detectors the scheduled jobs' conditions
	// use; absent when their keys are bad.
	Conditions *conditionsJSON `json:"conditions,omitempty"`
}

func runConfig(_ context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageErrorf("config takes no arguments")
	}
	sum := configSummary{EnvFile: e.cfg.File(), Values: e.cfg.Shown(), Problems: checkConfig(e)}
	tw := tabwriter.NewWriter(e.ui.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, v := range sum.Values {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Key, v.Value, v.Source)
	}
	tw.Flush()
	if cs, err := e.conditionSettings(); err == nil {
		d := cs.describe(context.Background(), false)
		sum.Conditions = &d
		fmt.Fprintf(e.ui.stdout, "\nnetwork condition (the push): %s\npower condition (rootfs backup, push): %s\n", d.Network, d.Power)
	}
	for _, p := range sum.Problems {
		e.ui.errorf("%s", p)
	}
	e.ui.summary(sum)
	if n := len(sum.Problems); n > 0 {
		return fmt.Errorf("the configuration has %d problem(s)", n)
	}
	return nil
}
