package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

func initCommand() *command {
	return &command{
		name: "init", group: "Set up",
		summary: "create a repository",
		usage:   "init [flags]",
		keys:    []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_RECIPIENT", "BACKUP_AGE_RECIPIENTS_FILE"},
		examples: []string{
			"BACKUP_AGE_RECIPIENT=age1... pocketsnap init",
			"pocketsnap init --repo /sdcard/pocket/repo",
		},
		setup: func(fs *pflag.FlagSet) runner { return runInit },
	}
}

func runInit(_ context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageErrorf("init takes no arguments")
	}
	s, err := e.initStore(e.cfg.repoDir())
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(e.ui.stdout, "repository %s (id %s, encoding %s)\n", s.Dir(), s.Config().ID, s.Config().Encoding)
	fmt.Fprintf(e.ui.stdout, "device secrets: %s (mode 0600, never uploaded)\n", s.Path("local/keys"))
	e.ui.summary(struct {
		Repository    string   `json:"repository"`
		ID            string   `json:"id"`
		Encoding      string   `json:"encoding"`
		Recipients    []string `json:"recipients"`
		DeviceSecrets string   `json:"device_secrets"`
	}{s.Dir(), s.Config().ID, s.Config().Encoding, s.Config().Recipients, s.Path("local/keys")})
	return nil
}
