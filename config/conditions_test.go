package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/conditions"
)

// Issue 19: the condition keys are read by config, into a typed policy:
// spellings in any case, OFFSITE_WHEN_CMD split into words, the defaults'
// durations; every bad value is named with where it was set, all at once.
func TestConditions(t *testing.T) {
	c, err := Load(Options{EnvFile: os.DevNull, Environ: []string{
		"OFFSITE_NETWORK=WiFi", "BACKUP_POWER=charging", "BACKUP_MIN_BATTERY=30%", "OFFSITE_WHEN_CMD=ssid-is 'Home Net'", "BACKUP_RECHECK=15m",
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Conditions()
	if err != nil {
		t.Fatal(err)
	}
	p := got.Policy
	if p.Network != conditions.NetworkWifi || p.Power != conditions.PowerCharging || p.MinBattery != 30 || !slices.Equal(p.WhenCmd, []string{"ssid-is", "Home Net"}) {
		t.Errorf("policy %+v", p)
	}
	if got.Recheck != 15*time.Minute || got.DeferAlert != 3*24*time.Hour {
		t.Errorf("recheck %v, defer alert %v; want 15m and the default 3d", got.Recheck, got.DeferAlert)
	}

	envFile := filepath.Join(t.TempDir(), "pocket.env")
	write(t, envFile, "OFFSITE_NETWORK=lte\nBACKUP_MIN_BATTERY=120\n", 0o600)
	c, err = Load(Options{EnvFile: envFile, Environ: []string{"BACKUP_POWER=solar", "BACKUP_DEFER_ALERT=soon"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Conditions()
	for _, want := range []string{
		`OFFSITE_NETWORK (` + envFile + `): "lte" is not any or wifi`,
		`BACKUP_POWER (environment): "solar" is not any or charging`,
		`BACKUP_MIN_BATTERY (` + envFile + `): "120" is not a percentage from 0 to 100`,
		`BACKUP_DEFER_ALERT`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
