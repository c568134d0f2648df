package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/stage"
)

// setting is a configuration key as "pocketsnap config" shows it.
type setting struct {
	key string
	// def returns the default value; nil when there is none.
	def func(c *config) string
	// secret values are shown only as "(set)".
	secret bool
}

func constant(v string) func(*config) string { return func(*config) string { return v } }

func keepDefault(kind string) func(*config) string {
	return constant(strconv.Itoa(defaultKeep[kind]))
}

// settings are the keys of the env file and the environment, in the order
// "pocketsnap config" shows them.
var settings = []setting{
	{key: "DATA_DIR", def: (*config).dataDir},
	{key: "BACKUP_DIR", def: (*config).backupDir},
	{key: "BACKUP_REPO", def: (*config).repoDir},
	{key: "BACKUP_AGE_RECIPIENT"},
	{key: "BACKUP_AGE_RECIPIENTS_FILE"},
	{key: "BACKUP_AGE_IDENTITY"},
	{key: "PREFIX", def: constant(defaultPrefix)},
	{key: "ROOTFS_DIR", def: (*config).rootfsDir},
	{key: "DB_DIR", def: (*config).dbDir},
	{key: "BACKUP_KEEP_DB", def: keepDefault("db")},
	{key: "BACKUP_KEEP_ROOTFS", def: keepDefault("rootfs")},
	{key: "BACKUP_COMPAT", def: constant("false")},
	{key: "DB_STOP_CMD"},
	{key: "DB_START_CMD"},
	{key: "DB_IMMUTABLE_GLOBS", def: constant(stage.DefaultImmutable)},
	{key: "STACK_STOP_CMD"},
	{key: "STACK_START_CMD"},
	{key: "ENABLE_BACKUP_DAEMON", def: constant("false")},
	{key: "BACKUP_DAEMON_HOUR", def: constant("4")},
	{key: "BACKUP_DB_CADENCE", def: constant("daily")},
	{key: "BACKUP_DAEMON_HC_URL", secret: true},
	{key: "ENABLE_OFFSITE_BACKUP", def: constant("false")},
	{key: "OFFSITE_MAX_UPLOAD_PER_RUN"},
	{key: "BACKUP_REPO_FINGERPRINT"},
	{key: "PACK_PADDING", def: constant("none")},
}

// offsiteSettings are the keys of ${DATA_DIR}/secrets/offsite.env.
var offsiteSettings = []setting{
	{key: "S3_ENDPOINT"},
	{key: "S3_BUCKET"},
	{key: "S3_REGION"},
	{key: "S3_ACCESS_KEY_ID", secret: true},
	{key: "S3_SECRET_ACCESS_KEY", secret: true},
	{key: "S3_PREFIX"},
	{key: "S3_CA_FILE"},
}

func configCommand() *command {
	var keys []string
	for _, s := range slices.Concat(settings, offsiteSettings) {
		keys = append(keys, s.key)
	}
	return &command{
		name: "config", group: "Set up",
		summary: "show the effective configuration and where each value comes from; check it",
		usage:   "config [--env-file FILE]",
		keys:    append(keys, "BACKUP_KEEP_<KIND>"),
		examples: []string{
			"pocketsnap config                               # ./.env (or $POCKETSNAP_ENV_FILE), the environment, the defaults",
			"pocketsnap config --env-file /sdcard/pocket.env  # check an env file before using it",
			"pocketsnap config --json | jq -r '.problems[] | \"\\(.key): \\(.problem)\"'",
		},
		diagnoses: true,
		setup:     func(fs *pflag.FlagSet) runner { return runConfig },
	}
}

// configValue is one line of "pocketsnap config".
type configValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// Source is "default", the env file's path, "environment" or a flag.
	Source string `json:"source"`
}

// configSummary is the --json summary of "pocketsnap config".
type configSummary struct {
	EnvFile  string        `json:"env_file"`
	Values   []configValue `json:"values"`
	Problems []problem     `json:"problems"`
}

func runConfig(_ context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageErrorf("config takes no arguments")
	}
	offsite, err := readOffsite(e.cfg.offsiteFile())
	if err != nil {
		return err
	}
	sum := configSummary{EnvFile: e.cfg.file, Values: shownValues(e.cfg, offsite), Problems: checkConfig(e, offsite)}
	tw := tabwriter.NewWriter(e.ui.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, v := range sum.Values {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Key, v.Value, v.Source)
	}
	tw.Flush()
	for _, p := range sum.Problems {
		e.ui.errorf("%s", p)
	}
	e.ui.summary(sum)
	if n := len(sum.Problems); n > 0 {
		return fmt.Errorf("the configuration has %d problem(s)", n)
	}
	return nil
}

// readOffsite reads the off-site secrets file; nil when there is none.
func readOffsite(path string) (*config, error) {
	c := &config{values: map[string]string{}, source: map[string]string{}, file: path}
	if err := c.readFile(path); err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("failed to read the off-site secrets file: %w", err)
	}
	return c, nil
}

// shownValues lists every setting with its value and source, the
// BACKUP_KEEP_<KIND> keys that are set, and the off-site settings when
// their file exists.
func shownValues(c, offsite *config) []configValue {
	list := slices.Clone(settings)
	var keep []string
	for k := range c.values {
		if strings.HasPrefix(k, keepKeyPrefix) && !slices.ContainsFunc(list, func(s setting) bool { return s.key == k }) {
			keep = append(keep, k)
		}
	}
	slices.Sort(keep)
	for _, k := range keep {
		list = append(list, setting{key: k})
	}
	var out []configValue
	for _, s := range list {
		out = append(out, s.show(c))
	}
	if offsite != nil {
		for _, s := range offsiteSettings {
			out = append(out, s.show(offsite))
		}
	}
	return out
}

func (s setting) show(c *config) configValue {
	v := c.get(s.key, "")
	switch {
	case v == "" && s.def != nil:
		v = s.def(c)
	case s.secret && v != "":
		v = "(set)"
	case v == "":
		v = "(unset)"
	}
	return configValue{Key: s.key, Value: v, Source: c.where(s.key)}
}
