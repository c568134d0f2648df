package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pocketsnap/pocketsnap/conditions"
	"github.com/pocketsnap/pocketsnap/config"
	"github.com/pocketsnap/pocketsnap/daemon"
	"github.com/pocketsnap/pocketsnap/hooks"
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

// conditionSettings reads the condition keys; each bad value is an error
// naming the key and where it was set, joined.
func (e *env) conditionSettings() (conditionSettings, error) {
	s := conditionSettings{checker: &conditions.Checker{}}
	p := &s.checker.Policy
	var errs []error
	bad := func(key string, err error) {
		errs = append(errs, fmt.Errorf("%s (%s): %w", key, e.cfg.Source(key), err))
	}
	p.Network = strings.ToLower(e.cfg.Value("OFFSITE_NETWORK"))
	if p.Network != conditions.NetworkAny && p.Network != conditions.NetworkWifi {
		bad("OFFSITE_NETWORK", fmt.Errorf("%q is not any or wifi", p.Network))
	}
	when, err := hooks.Parse("OFFSITE_WHEN_CMD", e.cfg.Value("OFFSITE_WHEN_CMD"))
	if err != nil {
		errs = append(errs, err)
	}
	p.WhenCmd = when.Args
	p.Power = strings.ToLower(e.cfg.Value("BACKUP_POWER"))
	if p.Power != conditions.PowerAny && p.Power != conditions.PowerCharging {
		bad("BACKUP_POWER", fmt.Errorf("%q is not any or charging", p.Power))
	}
	if p.MinBattery, err = config.ParsePercent(e.cfg.Value("BACKUP_MIN_BATTERY")); err != nil {
		bad("BACKUP_MIN_BATTERY", err)
	}
	if s.recheck, err = e.cfg.Duration("BACKUP_RECHECK"); err != nil {
		errs = append(errs, err)
	}
	if s.deferAlert, err = e.cfg.Duration("BACKUP_DEFER_ALERT"); err != nil {
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

// conditionGate holds the rootfs backup until there is power to spare,
// and the push until there is power and an allowed network; the db
// backup and retention always run.
type conditionGate struct{ c *conditions.Checker }

// Hold returns why job must wait, or "".
func (g conditionGate) Hold(ctx context.Context, job string) string {
	if v, ok := g.verdict(ctx, job); ok && !v.Allowed {
		return v.Reason
	}
	return ""
}

// verdict evaluates job's conditions; false when it has none.
func (g conditionGate) verdict(ctx context.Context, job string) (conditions.Verdict, bool) {
	switch job {
	case "rootfs":
		return g.c.Heavy(ctx), true
	case "push":
		return g.c.Push(ctx), true
	}
	return conditions.Verdict{}, false
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

// pushWatchEvery is how often a push whose conditions are obeyed asks
// them again while it runs.
var pushWatchEvery = 5 * time.Second

// pushGate applies the push's conditions. Obeyed (by the daemon, or
// push --when-allowed), a condition not met keeps the push from
// starting, or stops it cleanly at the next object; ignored (a push by
// hand), it is only reported.
type pushGate struct {
	// blocked is why the push must not start; "" when it may.
	blocked string
	why     atomic.Pointer[string]
	stop    func()
}

// startPushGate checks the push's conditions and, when they are obeyed,
// keeps watching them until the returned gate is closed.
func (e *env) startPushGate(ctx context.Context, obey bool) (*pushGate, error) {
	cs, err := e.conditionSettings()
	if err != nil {
		return nil, err
	}
	c := cs.checker
	g := &pushGate{stop: func() {}}
	v := c.Push(ctx)
	switch {
	case !v.Allowed && obey:
		g.blocked = v.Reason
		return g, nil
	case !v.Allowed:
		e.ui.warnf("%s (detector: %s): the daemon would not push now; pushing anyway, as asked by hand ('push --when-allowed' waits)", v.Reason, v.Detector)
		return g, nil
	case !obey:
		return g, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	g.stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		t := time.NewTicker(pushWatchEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if v := c.Push(ctx); !v.Allowed && ctx.Err() == nil {
				g.why.Store(&v.Reason)
				return
			}
		}
	}()
	return g, nil
}

// Stop is offsite.PushOptions.Stop: why the push must stop now, or "".
func (g *pushGate) Stop() string {
	if p := g.why.Load(); p != nil {
		return *p
	}
	return ""
}

// close stops watching.
func (g *pushGate) close() { g.stop() }

// pushDeferred reports a push that its conditions kept from starting or
// stopped: to the daemon as a deferral, by hand as a hint.
func (e *env) pushDeferred(why string) error {
	if e.scheduled {
		return &daemon.DeferredError{Reason: why}
	}
	e.ui.hintf("the push waits: %s; it continues when the conditions hold again ('pocketsnap push' without --when-allowed pushes anyway)", why)
	return nil
}
