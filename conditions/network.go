package conditions

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// NetworkDetector names what CheckNetwork asks, without asking it.
func (c *Checker) NetworkDetector() string {
	switch {
	case len(c.WhenCmd) > 0:
		return "OFFSITE_WHEN_CMD (" + strings.Join(c.WhenCmd, " ") + ")"
	case c.Network != NetworkWifi:
		return "none needed"
	case installed(termuxWifi):
		return "Termux:API (" + termuxWifi + ", " + termuxTelephony + ")"
	case installed(nmcli):
		return "NetworkManager (nmcli: the connection's metered property)"
	}
	return "none found: install Termux:API or NetworkManager, or set OFFSITE_WHEN_CMD"
}

// CheckNetwork tells whether the push may use the network now. With
// OFFSITE_WHEN_CMD set, its exit status decides; with OFFSITE_NETWORK=any
// the network is not checked; with wifi, only a Wi-Fi connection (or, on
// Linux, one NetworkManager knows to be unmetered) allows it.
func (c *Checker) CheckNetwork(ctx context.Context) Verdict {
	v := Verdict{Detector: c.NetworkDetector()}
	switch {
	case len(c.WhenCmd) > 0:
		v.Allowed, v.Reason = c.whenCmd(ctx)
	case c.Network != NetworkWifi:
		v.Allowed, v.Reason = true, "not checked"
	case installed(termuxWifi):
		v.Allowed, v.Reason = c.termuxNetwork(ctx)
	case installed(nmcli):
		v.Allowed, v.Reason = c.nmcliNetwork(ctx)
	default:
		v.Reason = "network state unknown: no detector"
	}
	return v
}

// whenCmd runs OFFSITE_WHEN_CMD.
func (c *Checker) whenCmd(ctx context.Context) (bool, string) {
	_, err := c.run(ctx, c.WhenCmd...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, "OFFSITE_WHEN_CMD exited 0"
	case errors.As(err, &ee):
		return false, fmt.Sprintf("OFFSITE_WHEN_CMD exited %d", ee.ExitCode())
	}
	return false, "OFFSITE_WHEN_CMD: " + err.Error()
}

// termuxAnswer parses a Termux:API command's JSON object: an error it
// reports ("error" without a permission, "API_ERROR") is an error.
func termuxAnswer(name string, out []byte, v any) error {
	var e struct {
		Error    string `json:"error"`
		APIError string `json:"API_ERROR"`
	}
	if err := json.Unmarshal(out, &e); err != nil {
		return fmt.Errorf("%s printed no JSON object (%.60q)", name, out)
	}
	if msg := e.Error + e.APIError; msg != "" {
		return fmt.Errorf("%s: %s", name, msg)
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("%s printed unexpected JSON: %w", name, err)
	}
	return nil
}

// termuxNetwork asks Termux:API: Wi-Fi is up when the supplicant has
// completed its association and the connection has an address.
func (c *Checker) termuxNetwork(ctx context.Context) (bool, string) {
	out, err := c.run(ctx, termuxWifi)
	var wifi struct {
		State string `json:"supplicant_state"`
		IP    string `json:"ip"`
		SSID  string `json:"ssid"`
	}
	if err == nil {
		err = termuxAnswer(termuxWifi, out, &wifi)
	}
	if err != nil {
		// The app's "No current connection" (Wi-Fi off) is an answer.
		if !strings.Contains(err.Error(), "No current connection") {
			return false, "network state unknown: " + err.Error()
		}
	} else if wifi.State == "COMPLETED" && wifi.IP != "" && wifi.IP != "0.0.0.0" {
		return true, "on Wi-Fi"
	}
	out, err = c.run(ctx, termuxTelephony)
	var tel struct {
		DataState any `json:"data_state"`
	}
	if err == nil {
		err = termuxAnswer(termuxTelephony, out, &tel)
	}
	switch {
	case errors.Is(err, errNotFound):
		return false, "not on Wi-Fi"
	case err != nil:
		return false, "not on Wi-Fi; mobile data unknown: " + err.Error()
	case tel.DataState == "connected":
		return false, "on mobile data"
	}
	return false, "no network"
}

// nmcliNetwork asks NetworkManager about every connected device but the
// loopback: the push may run when each is known to be unmetered.
func (c *Checker) nmcliNetwork(ctx context.Context) (bool, string) {
	out, err := c.run(ctx, nmcli, "-t", "-f", "GENERAL.DEVICE,GENERAL.TYPE,GENERAL.STATE,GENERAL.METERED", "device", "show")
	if err != nil {
		return false, "network state unknown: " + err.Error()
	}
	devs, err := parseNmcli(out)
	if err != nil {
		return false, "network state unknown: " + err.Error()
	}
	var up, metered, unknown []string
	for _, d := range devs {
		if d["GENERAL.TYPE"] == "loopback" || !strings.HasPrefix(d["GENERAL.STATE"], "100") {
			continue
		}
		name := d["GENERAL.DEVICE"]
		up = append(up, name)
		switch m := d["GENERAL.METERED"]; {
		case strings.HasPrefix(m, "yes"):
			metered = append(metered, name)
		case !strings.HasPrefix(m, "no"):
			unknown = append(unknown, name)
		}
	}
	switch {
	case len(up) == 0:
		return false, "no network"
	case len(metered) > 0:
		return false, "on a metered connection (" + strings.Join(metered, ", ") + ")"
	case len(unknown) > 0:
		return false, "network state unknown: NetworkManager does not know whether " + strings.Join(unknown, ", ") + " is metered"
	}
	return true, "on an unmetered connection (" + strings.Join(up, ", ") + ")"
}

// parseNmcli reads nmcli's terse output of device show: FIELD:value
// lines, a blank line between devices; a colon or backslash in a value is
// escaped with a backslash.
func parseNmcli(out []byte) ([]map[string]string, error) {
	var devs []map[string]string
	cur := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(cur) > 0 {
				devs = append(devs, cur)
				cur = map[string]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(k, "GENERAL.") {
			return nil, fmt.Errorf("nmcli printed an unexpected line %.60q", line)
		}
		cur[k] = strings.NewReplacer(`\:`, ":", `\\`, `\`).Replace(v)
	}
	if len(cur) > 0 {
		devs = append(devs, cur)
	}
	if len(devs) > 0 {
		if _, ok := devs[0]["GENERAL.METERED"]; !ok {
			return nil, errors.New("nmcli printed no GENERAL.METERED")
		}
	}
	return devs, nil
}
