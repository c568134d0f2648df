package conditions

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// The shapes below are those the Termux:API app writes (WifiAPI.java,
// TelephonyAPI.java, BatteryStatusAPI.java in termux/termux-api) and
// nmcli's terse output (nmcli(1): -t, FIELD:value, a blank line between
// devices).
const (
	wifiConnected = `{
  "bssid": "74:ac:b9:12:34:56",
  "frequency_mhz": 5180,
  "ip": "192.168.1.23",
  "link_speed_mbps": 433,
  "mac_address": "02:00:00:00:00:00",
  "network_id": 3,
  "rssi": -52,
  "ssid": "home",
  "ssid_hidden": false,
  "supplicant_state": "COMPLETED"
}`
	wifiDisconnected = `{
  "bssid": "02:00:00:00:00:00",
  "frequency_mhz": -1,
  "ip": "10.84.21.7",
  "link_speed_mbps": -1,
  "mac_address": "02:00:00:00:00:00",
  "network_id": -1,
  "rssi": -127,
  "ssid": "<unknown ssid>",
  "ssid_hidden": false,
  "supplicant_state": "DISCONNECTED"
}`
	wifiOff       = `{"API_ERROR": "No current connection"}`
	noPermission  = `{"error": "Please grant the following permission to use this command: android.permission.ACCESS_FINE_LOCATION"}`
	telephonyData = `{
  "data_enabled": "true",
  "data_activity": "inout",
  "data_state": "connected",
  "device_id": null,
  "device_software_version": "01",
  "phone_count": 1,
  "phone_type": "gsm",
  "network_operator": "20801",
  "network_operator_name": "Orange F",
  "network_country_iso": "fr",
  "network_type": "lte",
  "network_roaming": false,
  "sim_country_iso": "fr",
  "sim_operator": "20801",
  "sim_operator_name": "Orange F",
  "sim_serial_number": null,
  "sim_subscriber_id": null,
  "sim_state": "ready"
}`
	telephonyNoData = `{"data_enabled": "false", "data_activity": "none", "data_state": "disconnected", "network_type": "lte", "sim_state": "ready"}`
)

// battery answers: today's, and an old version's with fewer fields and
// the temperature as a string.
func batteryJSON(percent int, plugged, status string) string {
	return `{
  "present": true,
  "technology": "Li-ion",
  "health": "GOOD",
  "plugged": "` + plugged + `",
  "status": "` + status + `",
  "temperature": 27.5,
  "voltage": 3912,
  "current": -431000,
  "current_average": -402000,
  "percentage": ` + strconv.Itoa(percent) + `,
  "level": ` + strconv.Itoa(percent) + `,
  "scale": 100,
  "charge_counter": 2143000,
  "energy": null
}`
}

const batteryOld = `{"health": "GOOD", "percentage": 64, "plugged": "PLUGGED_USB", "status": "CHARGING", "temperature": "31.0"}`

// fakePath makes PATH hold only a directory of fake commands, each a
// shell script printing out; it returns the directory.
func fakePath(t *testing.T, cmds map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, script := range cmds {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	return dir
}

// prints is a script printing s as it is.
func prints(s string) string { return "cat <<'EOF'\n" + s + "\nEOF" }

func wifiChecker() *Checker {
	return &Checker{Policy: Policy{Network: NetworkWifi}, Timeout: 5 * time.Second}
}

// Issue 22.1: Termux:API answers decide the push: Wi-Fi allows it, mobile
// data and no network defer it.
func TestTermuxNetwork(t *testing.T) {
	for _, tc := range []struct {
		name, wifi, tel string
		allowed         bool
		reason          string
	}{
		{"wifi", prints(wifiConnected), prints(telephonyData), true, "on Wi-Fi"},
		{"mobile data", prints(wifiDisconnected), prints(telephonyData), false, "on mobile data"},
		{"wifi off, mobile data", prints(wifiOff), prints(telephonyData), false, "on mobile data"},
		{"no network", prints(wifiOff), prints(telephonyNoData), false, "no network"},
		{"no permission", prints(noPermission), prints(telephonyData), false, "network state unknown: termux-wifi-connectioninfo: Please grant"},
		{"malformed", "echo 'Segmentation fault'", prints(telephonyData), false, "network state unknown: termux-wifi-connectioninfo printed no JSON object"},
		{"truncated", "printf '{\"supplicant_state\": \"COMPL'", prints(telephonyData), false, "network state unknown"},
		{"wifi fails", "echo broken >&2; exit 1", prints(telephonyData), false, "network state unknown: termux-wifi-connectioninfo failed: exit status 1: broken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakePath(t, map[string]string{termuxWifi: "PATH=/bin:/usr/bin\n" + tc.wifi, termuxTelephony: "PATH=/bin:/usr/bin\n" + tc.tel})
			v := wifiChecker().CheckNetwork(context.Background())
			if v.Allowed != tc.allowed || !strings.HasPrefix(v.Reason, tc.reason) {
				t.Errorf("got %+v, want allowed=%v reason %q", v, tc.allowed, tc.reason)
			}
			if !strings.Contains(v.Detector, "Termux:API") {
				t.Errorf("detector %q", v.Detector)
			}
		})
	}
}

// Issue 22.1: a Termux:API command that hangs (the app is missing) is
// killed with everything it started at the timeout, and the push is
// deferred, never allowed.
func TestTermuxHangTimesOut(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	fakePath(t, map[string]string{
		termuxWifi:    "/bin/sleep 60 & echo $! > " + pidFile + "; wait",
		termuxBattery: "/bin/sleep 60",
	})
	c := wifiChecker()
	c.Timeout = 300 * time.Millisecond
	start := time.Now()
	v := c.CheckNetwork(context.Background())
	if v.Allowed || !strings.Contains(v.Reason, "termux-wifi-connectioninfo did not answer within 300ms (is the Termux:API app installed?") {
		t.Errorf("got %+v", v)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("took %s", took)
	}
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file: %q", b)
	}
	if !testenv.Ended(pid, 10*time.Second) {
		t.Errorf("the sleep the command started (pid %d) survived", pid)
	}
	c.Power = PowerCharging
	if v := c.CheckPower(context.Background()); v.Allowed || !strings.Contains(v.Reason, "power state unknown: termux-battery-status did not answer") {
		t.Errorf("power: got %+v", v)
	}
}

// Issue 22.1: with no detector at all the push waits under wifi and
// goes under any; a missing command is named.
func TestNetworkPolicies(t *testing.T) {
	fakePath(t, nil)
	c := wifiChecker()
	if v := c.CheckNetwork(context.Background()); v.Allowed || v.Reason != "network state unknown: no detector" || !strings.HasPrefix(v.Detector, "none found") {
		t.Errorf("wifi, no detector: %+v", v)
	}
	c.Network = NetworkAny
	if v := c.CheckNetwork(context.Background()); !v.Allowed || v.Reason != "not checked" || v.Detector != "none needed" {
		t.Errorf("any: %+v", v)
	}
	// Only a Wi-Fi command, as on a Termux:API install missing one:
	fakePath(t, map[string]string{termuxWifi: "PATH=/bin:/usr/bin\n" + prints(wifiOff)})
	c.Network = NetworkWifi
	if v := c.CheckNetwork(context.Background()); v.Allowed || v.Reason != "not on Wi-Fi" {
		t.Errorf("no telephony command: %+v", v)
	}
}

// Issue 22.1: OFFSITE_WHEN_CMD overrides detection: exit 0 goes, any other
// exit, a missing command or a hang waits.
func TestWhenCmd(t *testing.T) {
	dir := fakePath(t, map[string]string{
		termuxWifi: "PATH=/bin:/usr/bin\n" + prints(wifiConnected),
		"go-ahead": "exit 0", "wait-a-bit": "exit 3", "hang": "/bin/sleep 60",
	})
	c := wifiChecker()
	c.Timeout = 300 * time.Millisecond
	for cmd, want := range map[string]string{
		"go-ahead":                     "OFFSITE_WHEN_CMD exited 0",
		"wait-a-bit":                   "OFFSITE_WHEN_CMD exited 3",
		"hang":                         "OFFSITE_WHEN_CMD: hang did not answer within 300ms",
		"missing":                      "OFFSITE_WHEN_CMD: missing: not installed",
		filepath.Join(dir, "go-ahead"): "OFFSITE_WHEN_CMD exited 0",
	} {
		c.WhenCmd = []string{cmd, "--arg"}
		v := c.CheckNetwork(context.Background())
		if v.Allowed != strings.HasSuffix(want, "exited 0") || v.Reason != want || !strings.HasPrefix(v.Detector, "OFFSITE_WHEN_CMD ("+cmd+" --arg)") {
			t.Errorf("%s: got %+v, want %q", cmd, v, want)
		}
	}
}

// Issue 22.1: on Linux, NetworkManager's metered property decides.
func TestNmcliNetwork(t *testing.T) {
	const lo = "GENERAL.DEVICE:lo\nGENERAL.TYPE:loopback\nGENERAL.STATE:100 (connected (externally))\nGENERAL.METERED:unknown\n"
	wifi := func(metered string) string {
		return "GENERAL.DEVICE:wlp2s0\nGENERAL.TYPE:wifi\nGENERAL.STATE:100 (connected)\nGENERAL.METERED:" + metered + "\n"
	}
	const eth = "GENERAL.DEVICE:enp0s31f6\nGENERAL.TYPE:ethernet\nGENERAL.STATE:20 (unavailable)\nGENERAL.METERED:unknown\n"
	for _, tc := range []struct {
		name, out string
		allowed   bool
		reason    string
	}{
		{"unmetered", wifi("no (guessed)") + "\n" + eth + "\n" + lo, true, "on an unmetered connection (wlp2s0)"},
		{"metered hotspot", wifi("yes (guessed)") + "\n" + lo, false, "on a metered connection (wlp2s0)"},
		{"metered", wifi("yes") + "\n" + eth, false, "on a metered connection (wlp2s0)"},
		{"unknown", wifi("unknown"), false, "network state unknown: NetworkManager does not know whether wlp2s0 is metered"},
		{"nothing connected", eth + "\n" + lo, false, "no network"},
		{"malformed", "Error: NetworkManager is not running.", false, "network state unknown: nmcli printed an unexpected line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakePath(t, map[string]string{nmcli: "PATH=/bin:/usr/bin\n" + `[ "$*" = "-t -f GENERAL.DEVICE,GENERAL.TYPE,GENERAL.STATE,GENERAL.METERED device show" ] || exit 2` + "\n" + prints(tc.out)})
			v := wifiChecker().CheckNetwork(context.Background())
			if v.Allowed != tc.allowed || !strings.HasPrefix(v.Reason, tc.reason) || !strings.HasPrefix(v.Detector, "NetworkManager") {
				t.Errorf("got %+v, want allowed=%v reason %q", v, tc.allowed, tc.reason)
			}
		})
	}
}

// Issue 22.2: termux-battery-status answers against BACKUP_POWER and
// BACKUP_MIN_BATTERY.
func TestTermuxPower(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		power     string
		min       int
		allowed   bool
		reason    string
	}{
		{"charging", batteryJSON(45, "PLUGGED_AC", "CHARGING"), PowerCharging, 0, true, "battery 45%, charging"},
		{"full on the charger", batteryJSON(100, "PLUGGED_USB", "FULL"), PowerCharging, 50, true, "battery 100%, charging"},
		{"discharging", batteryJSON(18, "UNPLUGGED", "DISCHARGING"), PowerCharging, 0, false, "battery 18%, not charging"},
		{"discharging above the floor", batteryJSON(60, "UNPLUGGED", "DISCHARGING"), PowerAny, 30, true, "battery 60%, not charging"},
		{"discharging below the floor", batteryJSON(29, "UNPLUGGED", "DISCHARGING"), PowerAny, 30, false, "battery 29%, not charging, below BACKUP_MIN_BATTERY=30%"},
		{"at the floor", batteryJSON(30, "UNPLUGGED", "DISCHARGING"), PowerAny, 30, true, "battery 30%, not charging"},
		{"below the floor but charging", batteryJSON(9, "PLUGGED_WIRELESS", "CHARGING"), PowerAny, 30, true, "battery 9%, charging"},
		{"an old version", batteryOld, PowerCharging, 20, true, "battery 64%, charging"},
		{"level and scale only", `{"plugged": "UNPLUGGED", "status": "DISCHARGING", "level": 40, "scale": 50}`, PowerAny, 90, false, "battery 80%, not charging, below"},
		{"percentage as a string", `{"plugged": "UNPLUGGED", "status": "DISCHARGING", "percentage": "12"}`, PowerAny, 15, false, "battery 12%, not charging, below"},
		{"no percentage", `{"plugged": "UNPLUGGED", "status": "DISCHARGING"}`, PowerAny, 15, false, "battery, not charging"},
		{"no battery", `{"present": false, "plugged": "PLUGGED_AC", "status": "UNKNOWN"}`, PowerCharging, 50, true, "no battery"},
		{"malformed", "[]", PowerCharging, 0, false, "power state unknown: termux-battery-status printed"},
		{"empty object", "{}", PowerCharging, 0, false, "power state unknown: termux-battery-status told neither plugged nor status"},
		{"any power", "exit 1", PowerAny, 0, true, "not checked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakePath(t, map[string]string{termuxBattery: "PATH=/bin:/usr/bin\n" + prints(tc.out)})
			c := &Checker{Policy: Policy{Power: tc.power, MinBattery: tc.min}, Timeout: 5 * time.Second}
			v := c.CheckPower(context.Background())
			if v.Allowed != tc.allowed || !strings.HasPrefix(v.Reason, tc.reason) {
				t.Errorf("got %+v, want allowed=%v reason %q", v, tc.allowed, tc.reason)
			}
		})
	}
}

// Issue 22.2: on Linux, /sys/class/power_supply; a machine without a
// battery or without the directory is allowed, and says so.
func TestSysfsPower(t *testing.T) {
	fakePath(t, nil)
	write := func(root string, files map[string]string) {
		for p, v := range files {
			os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
			os.WriteFile(filepath.Join(root, p), []byte(v+"\n"), 0o644)
		}
	}
	laptop := t.TempDir()
	write(laptop, map[string]string{"BAT0/type": "Battery", "BAT0/capacity": "18", "BAT0/status": "Discharging", "BAT0/present": "1",
		"AC/type": "Mains", "AC/online": "0", "hidpp_battery_0/type": "Battery", "hidpp_battery_0/scope": "Device", "hidpp_battery_0/capacity": "90"})
	c := &Checker{Policy: Policy{Power: PowerCharging}, PowerSupply: laptop}
	if v := c.CheckPower(context.Background()); v.Allowed || v.Reason != "battery 18%, not charging" || v.Detector != laptop {
		t.Errorf("discharging laptop: %+v", v)
	}
	write(laptop, map[string]string{"AC/online": "1", "BAT0/status": "Charging"})
	if v := c.CheckPower(context.Background()); !v.Allowed || v.Reason != "battery 18%, charging" {
		t.Errorf("charging laptop: %+v", v)
	}
	server := t.TempDir()
	write(server, map[string]string{"ucsi-source-psy-USBC000:001/type": "USB", "ucsi-source-psy-USBC000:001/online": "0"})
	c.PowerSupply = server
	if v := c.CheckPower(context.Background()); !v.Allowed || v.Reason != "no battery" {
		t.Errorf("no battery: %+v", v)
	}
	c.PowerSupply = filepath.Join(server, "absent")
	if v := c.CheckPower(context.Background()); !v.Allowed || v.Reason != "no power detector" || !strings.HasPrefix(v.Detector, "none found") {
		t.Errorf("no detector: %+v", v)
	}
}

// Issue 22.2 and 22.1: the push needs both power and the network.
func TestPushNeedsBoth(t *testing.T) {
	fakePath(t, map[string]string{
		termuxWifi:    "PATH=/bin:/usr/bin\n" + prints(wifiConnected),
		termuxBattery: "PATH=/bin:/usr/bin\n" + prints(batteryJSON(50, "UNPLUGGED", "DISCHARGING")),
	})
	c := &Checker{Policy: Policy{Network: NetworkWifi, Power: PowerCharging}, Timeout: 5 * time.Second}
	if v := c.Push(context.Background()); v.Allowed || v.Reason != "battery 50%, not charging" {
		t.Errorf("on Wi-Fi, not charging: %+v", v)
	}
	c.Power = PowerAny
	if v := c.Push(context.Background()); !v.Allowed || v.Reason != "on Wi-Fi" {
		t.Errorf("on Wi-Fi, any power: %+v", v)
	}
	if v := c.Heavy(context.Background()); !v.Allowed {
		t.Errorf("heavy, any power: %+v", v)
	}
}
