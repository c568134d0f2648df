package conditions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// battery is what a power detector found.
type battery struct {
	// present is false on a machine without a battery.
	present  bool
	percent  int // -1 when not told
	charging bool
}

func (b battery) String() string {
	if !b.present {
		return "no battery"
	}
	s := "battery"
	if b.percent >= 0 {
		s += fmt.Sprintf(" %d%%", b.percent)
	}
	if b.charging {
		return s + ", charging"
	}
	return s + ", not charging"
}

func (c *Checker) sysfs() string {
	if c.PowerSupply != "" {
		return c.PowerSupply
	}
	return "/sys/class/power_supply"
}

// powerNeeded reports whether the power policy asks anything.
func (c *Checker) powerNeeded() bool { return c.Power == PowerCharging || c.MinBattery > 0 }

// PowerDetector names what CheckPower asks, without asking it.
func (c *Checker) PowerDetector() string {
	switch {
	case !c.powerNeeded():
		return "none needed"
	case installed(termuxBattery):
		return "Termux:API (" + termuxBattery + ")"
	}
	if _, err := os.Stat(c.sysfs()); err == nil {
		return c.sysfs()
	}
	return "none found: heavy work is allowed (install Termux:API to detect the battery)"
}

// CheckPower tells whether heavy work may run now: with BACKUP_POWER=
// charging only while the phone charges, and below BACKUP_MIN_BATTERY
// only while it charges. A machine with no battery, or no detector, is
// allowed; a detector that fails is not.
func (c *Checker) CheckPower(ctx context.Context) Verdict {
	v := Verdict{Detector: c.PowerDetector()}
	if !c.powerNeeded() {
		v.Allowed, v.Reason = true, "not checked"
		return v
	}
	var b battery
	var err error
	switch {
	case installed(termuxBattery):
		b, err = c.termuxBattery(ctx)
	default:
		b, err = readSysfs(c.sysfs())
		if errors.Is(err, os.ErrNotExist) {
			v.Allowed, v.Reason = true, "no power detector"
			return v
		}
	}
	switch {
	case err != nil:
		v.Reason = "power state unknown: " + err.Error()
	case !b.present:
		v.Allowed, v.Reason = true, "no battery"
	case c.Power == PowerCharging && !b.charging:
		v.Reason = b.String()
	case !b.charging && (b.percent < 0 || b.percent < c.MinBattery):
		v.Reason = b.String()
		if b.percent >= 0 {
			v.Reason += fmt.Sprintf(", below BACKUP_MIN_BATTERY=%d%%", c.MinBattery)
		}
	default:
		v.Allowed, v.Reason = true, b.String()
	}
	return v
}

// termuxBattery asks termux-battery-status. Its fields vary between
// versions (percentage may be missing, temperature a string), so they are
// read one by one: percentage, else level/scale; plugged; status.
func (c *Checker) termuxBattery(ctx context.Context) (battery, error) {
	b := battery{present: true, percent: -1}
	out, err := c.run(ctx, termuxBattery)
	if err != nil {
		return b, err
	}
	var f map[string]json.RawMessage
	if err := termuxAnswer(termuxBattery, out, &f); err != nil {
		return b, err
	}
	num := func(k string) (int, bool) {
		raw, ok := f[k]
		if !ok {
			return 0, false
		}
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return 0, false
			}
			n = json.Number(strings.TrimSpace(s))
		}
		x, err := n.Float64()
		return int(x), err == nil
	}
	str := func(k string) string {
		var s string
		json.Unmarshal(f[k], &s)
		return strings.ToUpper(s)
	}
	if p, ok := f["present"]; ok && string(p) == "false" {
		return battery{percent: -1}, nil
	}
	if p, ok := num("percentage"); ok {
		b.percent = p
	} else if l, ok := num("level"); ok {
		if s, ok := num("scale"); ok && s > 0 {
			b.percent = l * 100 / s
		}
	}
	plugged, status := str("plugged"), str("status")
	if plugged == "" && status == "" {
		return b, fmt.Errorf("%s told neither plugged nor status", termuxBattery)
	}
	b.charging = plugged != "" && plugged != "UNPLUGGED" || status == "CHARGING" || status == "FULL"
	return b, nil
}

// readSysfs reads the Linux power supplies: a Battery's capacity and
// status, and whether a Mains, USB or Wireless supply is online.
func readSysfs(dir string) (battery, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return battery{}, err
	}
	b := battery{percent: -1}
	read := func(name, file string) string {
		v, _ := os.ReadFile(filepath.Join(dir, name, file))
		return strings.TrimSpace(string(v))
	}
	for _, e := range ents {
		switch read(e.Name(), "type") {
		case "Battery":
			if read(e.Name(), "present") == "0" || read(e.Name(), "scope") == "Device" {
				continue // a mouse's battery is not the machine's
			}
			b.present = true
			if p, err := strconv.Atoi(read(e.Name(), "capacity")); err == nil && b.percent < 0 {
				b.percent = p
			}
			if s := read(e.Name(), "status"); s == "Charging" || s == "Full" {
				b.charging = true
			}
		case "Mains", "USB", "Wireless":
			if read(e.Name(), "online") == "1" {
				b.charging = true
			}
		}
	}
	return b, nil
}
