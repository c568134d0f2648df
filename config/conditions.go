package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/conditions"
	"github.com/pocketsnap/pocketsnap/hooks"
)

// Conditions is what the keys of the scheduled jobs' conditions say.
type Conditions struct {
	// Policy is OFFSITE_NETWORK, OFFSITE_WHEN_CMD, BACKUP_POWER and
	// BACKUP_MIN_BATTERY.
	Policy conditions.Policy
	// Recheck is BACKUP_RECHECK: how often a deferred job is asked again.
	Recheck time.Duration
	// DeferAlert is BACKUP_DEFER_ALERT: how long a job may stay deferred
	// before the heartbeat reports a failure.
	DeferAlert time.Duration
}

// Conditions reads the condition keys; each bad value is an error naming
// the key and where it was set, joined.
func (c *Config) Conditions() (Conditions, error) {
	var s Conditions
	p := &s.Policy
	var errs []error
	bad := func(key string, err error) {
		errs = append(errs, fmt.Errorf("%s (%s): %w", key, c.Source(key), err))
	}
	p.Network = strings.ToLower(c.Value("OFFSITE_NETWORK"))
	if p.Network != conditions.NetworkAny && p.Network != conditions.NetworkWifi {
		bad("OFFSITE_NETWORK", fmt.Errorf("%q is not any or wifi", p.Network))
	}
	when, err := hooks.Parse("OFFSITE_WHEN_CMD", c.Value("OFFSITE_WHEN_CMD"))
	if err != nil {
		errs = append(errs, err)
	}
	p.WhenCmd = when.Args
	p.Power = strings.ToLower(c.Value("BACKUP_POWER"))
	if p.Power != conditions.PowerAny && p.Power != conditions.PowerCharging {
		bad("BACKUP_POWER", fmt.Errorf("%q is not any or charging", p.Power))
	}
	if p.MinBattery, err = ParsePercent(c.Value("BACKUP_MIN_BATTERY")); err != nil {
		bad("BACKUP_MIN_BATTERY", err)
	}
	if s.Recheck, err = c.Duration("BACKUP_RECHECK"); err != nil {
		errs = append(errs, err)
	}
	if s.DeferAlert, err = c.Duration("BACKUP_DEFER_ALERT"); err != nil {
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}
