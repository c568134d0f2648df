package main

import (
	"context"
	"fmt"
	"time"

	"github.com/pocketsnap/pocketsnap/conditions"
)

// conditionKeys are the keys of the conditions of the scheduled jobs
// (package conditions).
var conditionKeys = []string{"OFFSITE_NETWORK", "OFFSITE_WHEN_CMD", "BACKUP_POWER", "BACKUP_MIN_BATTERY", "BACKUP_RECHECK", "BACKUP_DEFER_ALERT"}

// conditionSettings is what the condition keys say.
type conditionSettings struct {
	checker    *conditions.Checker
	recheck    time.Duration
	deferAlert time.Duration
}

// conditionSettings reads the condition keys (see config.Conditions).
func (e *env) conditionSettings() (conditionSettings, error) {
	c, err := e.cfg.Conditions()
	return conditionSettings{checker: &conditions.Checker{Policy: c.Policy}, recheck: c.Recheck, deferAlert: c.DeferAlert}, err
}

// conditionsJSON is what `status` and `config` say of the conditions.
type conditionsJSON struct {
	Network conditionJSON `json:"network"`
	Power   conditionJSON `json:"power"`
}

type conditionJSON struct {
	// Policy is the settings, e.g. "OFFSITE_NETWORK=wifi".
	Policy   string `json:"policy"`
	Detector string `json:"detector"`
	// Now is the state found, when it was asked (status).
	Now *conditions.Verdict `json:"now,omitempty"`
}

// describe says which detectors are in use; with live set, it also asks
// them what holds now.
func (s conditionSettings) describe(ctx context.Context, live bool) conditionsJSON {
	c := s.checker
	net := "OFFSITE_NETWORK=" + c.Network
	if len(c.WhenCmd) > 0 {
		net = "OFFSITE_WHEN_CMD"
	}
	out := conditionsJSON{
		Network: conditionJSON{Policy: net, Detector: c.NetworkDetector()},
		Power:   conditionJSON{Policy: fmt.Sprintf("BACKUP_POWER=%s, BACKUP_MIN_BATTERY=%d", c.Power, c.MinBattery), Detector: c.PowerDetector()},
	}
	if live {
		n, p := c.CheckNetwork(ctx), c.CheckPower(ctx)
		out.Network.Now, out.Power.Now = &n, &p
	}
	return out
}

// String renders a condition for people: policy, detector and, if asked,
// the state now.
func (c conditionJSON) String() string {
	s := c.Policy + ", detector: " + c.Detector
	if c.Now != nil {
		verdict := "allowed"
		if !c.Now.Allowed {
			verdict = "deferred"
		}
		s += "; now: " + c.Now.Reason + " (" + verdict + ")"
	}
	return s
}
