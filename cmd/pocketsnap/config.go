package main

import (
	"github.com/pocketsnap/pocketsnap/config"
)

// loadConfig reads the configuration for the global options: the env
// file they name, the environment, and --repo.
func loadConfig(g globalOptions) (*config.Config, error) {
	c, err := config.Load(config.Options{EnvFile: g.envFile})
	if err != nil {
		return nil, err
	}
	if g.repo != "" {
		c.Set("BACKUP_REPO", g.repo, "--repo")
	}
	return c, nil
}
