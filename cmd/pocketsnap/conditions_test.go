package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/job"
	"github.com/pocketsnap/pocketsnap/offsite"
)

// Answers of the Termux:API commands, in the shapes the app writes
// (termux-api's WifiAPI, TelephonyAPI and BatteryStatusAPI).
const (
	termuxOnWifi   = `{"bssid": "74:ac:b9:12:34:56", "frequency_mhz": 5180, "ip": "192.168.1.23", "link_speed_mbps": 433, "network_id": 3, "rssi": -52, "ssid": "home", "ssid_hidden": false, "supplicant_state": "COMPLETED"}`
	termuxWifiOff  = `{"API_ERROR": "No current connection"}`
	termuxOnMobile = `{"data_enabled": "true", "data_activity": "inout", "data_state": "connected", "network_type": "lte", "sim_state": "ready"}`
)

func termuxBattery(percent int, plugged, status string) string {
	return fmt.Sprintf(`{"present": true, "health": "GOOD", "plugged": %q, "status": %q, "temperature": 27.5, "percentage": %d, "level": %d, "scale": 100}`,
		plugged, status, percent, percent)
}

// fakeTermux puts fake Termux:API commands first on c's PATH; each prints
// what the returned function last set for it.
func (c *cli) fakeTermux() (set func(cmd, answer string)) {
	c.t.Helper()
	bin := filepath.Join(c.dir, "termux-bin")
	state := filepath.Join(c.dir, "termux-state")
	for _, d := range []string{bin, state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			c.t.Fatal(err)
		}
	}
	set = func(cmd, answer string) {
		c.t.Helper()
		tmp := filepath.Join(state, cmd+".tmp")
		if err := os.WriteFile(tmp, []byte(answer+"\n"), 0o644); err != nil {
			c.t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(state, cmd)); err != nil {
			c.t.Fatal(err)
		}
	}
	for _, cmd := range []string{"termux-wifi-connectioninfo", "termux-telephony-deviceinfo", "termux-battery-status"} {
		script := "#!/bin/sh\nexec cat " + filepath.Join(state, cmd) + "\n"
		if err := os.WriteFile(filepath.Join(bin, cmd), []byte(script), 0o755); err != nil {
			c.t.Fatal(err)
		}
	}
	set("termux-wifi-connectioninfo", termuxOnWifi)
	set("termux-telephony-deviceinfo", termuxOnMobile)
	set("termux-battery-status", termuxBattery(80, "PLUGGED_AC", "CHARGING"))
	c.env = append(c.env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return set
}

// Issue 22.3 (and 22.1, 22.2): run-due applies the conditions as the
// daemon does. Unplugged at 18%, the rootfs backup and the push are
// deferred while the db backup runs; charging on mobile data, the rootfs
// backup runs and the push waits; on Wi-Fi it runs. status (text and
// JSON) and config say what waits, why, since when and which detector
// told.
func TestRunDueAppliesConditions(t *testing.T) {
	f := newPushFixture(t)
	f.scheduled(31, 32)
	set := f.fakeTermux()
	f.env = append(f.env, "OFFSITE_NETWORK=wifi", "BACKUP_POWER=charging")
	set("termux-wifi-connectioninfo", termuxWifiOff)
	set("termux-battery-status", termuxBattery(18, "UNPLUGGED", "DISCHARGING"))

	out := f.mustRun("run-due")
	for _, want := range []string{`msg="job done" job=db`, `msg="job deferred; it stays due" job=rootfs why="battery 18%, not charging"`,
		`msg="job done" job=retention`, `msg="job deferred; it stays due" job=push why="battery 18%, not charging"`} {
		if !strings.Contains(out, want) {
			t.Errorf("run-due output lacks %q:\n%s", want, out)
		}
	}
	if len(f.objects()) != 0 {
		t.Fatal("the push ran")
	}
	text := f.mustRun("status")
	if !strings.Contains(text, "deferred: battery 18%, not charging since ") {
		t.Errorf("status does not show the deferral:\n%s", text)
	}
	if !strings.Contains(text, "BACKUP_POWER=charging, BACKUP_MIN_BATTERY=0, detector: Termux:API (termux-battery-status); now: battery 18%, not charging (deferred)") {
		t.Errorf("status does not show the power detector:\n%s", text)
	}

	set("termux-battery-status", termuxBattery(35, "PLUGGED_USB", "CHARGING"))
	out = f.mustRun("run-due")
	for _, want := range []string{`msg="job done" job=rootfs`, `msg="job deferred; it stays due" job=push why="on mobile data"`} {
		if !strings.Contains(out, want) {
			t.Errorf("run-due output lacks %q:\n%s", want, out)
		}
	}
	st := f.status()
	push := st.job("push")
	if push.Deferred != "on mobile data" || push.DeferredSince.IsZero() || time.Since(push.DeferredSince) > time.Hour {
		t.Errorf("status --json push: %+v", push)
	}
	if r := st.job("rootfs"); r.Deferred != "" {
		t.Errorf("status --json rootfs still deferred: %+v", r)
	}
	if st.Conditions.Network.Now == nil || st.Conditions.Network.Now.Reason != "on mobile data" || !strings.HasPrefix(st.Conditions.Network.Detector, "Termux:API") {
		t.Errorf("status --json conditions: %+v", st.Conditions)
	}
	if text := f.mustRun("status"); !strings.Contains(text, "deferred: on mobile data since ") {
		t.Errorf("status does not show the deferral:\n%s", text)
	}
	if cfg := f.mustRun("config"); !strings.Contains(cfg, "network condition (the push): OFFSITE_NETWORK=wifi, detector: Termux:API (termux-wifi-connectioninfo, termux-telephony-deviceinfo)") {
		t.Errorf("config does not name the network detector:\n%s", cfg)
	}

	set("termux-wifi-connectioninfo", termuxOnWifi)
	out = f.mustRun("run-due")
	if !strings.Contains(out, `msg="job done" job=push`) {
		t.Errorf("the push did not run on Wi-Fi:\n%s", out)
	}
	if got, want := len(offsite.SnapshotNames(sizesOf(f.objects()))), len(f.snapshots()); got != want || got == 0 {
		t.Errorf("the bucket shows %d snapshots, the device has %d", got, want)
	}
	if push := f.status().job("push"); push.Deferred != "" || push.Result != "ok" {
		t.Errorf("push after it ran: %+v", push)
	}
}

// Issue 22.5: a push by hand ignores the conditions but says one is not
// met; push --when-allowed waits, and says so.
func TestPushWhenAllowed(t *testing.T) {
	f := newPushFixture(t)
	src := f.source(33)
	f.mustRun("backup", "db", "--source", src, "--no-rotate")
	set := f.fakeTermux()
	set("termux-wifi-connectioninfo", termuxWifiOff)
	f.env = append(f.env, "OFFSITE_NETWORK=wifi")

	out := f.mustRun("push", "--when-allowed")
	if !strings.Contains(out, "pocketsnap: hint: the push waits: on mobile data;") || len(f.objects()) != 0 {
		t.Fatalf("push --when-allowed on mobile data:\n%s", out)
	}
	out = f.mustRun("push")
	if !strings.Contains(out, "pocketsnap: warning: on mobile data (detector: Termux:API") || !strings.Contains(out, "pushing anyway, as asked by hand") {
		t.Errorf("a push by hand does not say the condition is not met:\n%s", out)
	}
	if len(offsite.SnapshotNames(sizesOf(f.objects()))) != 1 {
		t.Errorf("a push by hand did not push:\n%s", out)
	}
}

// Issue 22.4: a push that loses Wi-Fi mid-way stops cleanly at the next
// object, leaves no snapshot half-visible, and the next push resumes and
// completes without sending any object twice.
func TestPushStopsWhenWifiLost(t *testing.T) {
	f := newPushFixture(t)
	src := f.source(34)
	r := rand.New(rand.NewPCG(5, 6))
	for _, name := range []string{"a", "b", "c"} {
		writeRandom(t, filepath.Join(src, "bulk", name), 6<<20, r)
	}
	f.mustRun("backup", "db", "--source", src, "--no-rotate")
	set := f.fakeTermux()
	f.env = append(f.env, "OFFSITE_NETWORK=wifi")
	f.bin = buildBinary(t)

	// At 1 MiB/s, the push lasts about 20 seconds: switch to mobile data
	// once it has sent two objects.
	cmd := f.command("push", "--when-allowed", "--limit-upload", "1M", "--jobs", "2", "--json")
	var output strings.Builder
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for len(f.objects()) < 2 {
		select {
		case err := <-done:
			t.Fatalf("the push ended (%v) before it could be interrupted:\n%s", err, output.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	set("termux-wifi-connectioninfo", termuxWifiOff)
	if err := <-done; err != nil {
		t.Fatalf("the stopped push: %v\n%s", err, output.String())
	}
	first := output.String()
	if !strings.Contains(first, "pocketsnap: warning: stopped: on mobile data: ") {
		t.Fatalf("the push does not say it stopped:\n%s", first)
	}
	var one, two job.PushResult
	if err := json.Unmarshal(summaryLine(first), &one); err != nil {
		t.Fatalf("%v\n%s", err, first)
	}
	if one.Deferred != "on mobile data" || one.LeftObjects == 0 || one.SentObjects == 0 {
		t.Fatalf("first push: %+v", one)
	}
	before := f.objects()
	f.checkInvariants(nil, before)
	if n := len(offsite.SnapshotNames(sizesOf(before))); n != 0 {
		t.Errorf("the stopped push made %d snapshots visible: its manifest goes last", n)
	}

	set("termux-wifi-connectioninfo", termuxOnWifi)
	second := f.mustRun("push", "--when-allowed", "--json")
	if err := json.Unmarshal(summaryLine(second), &two); err != nil {
		t.Fatalf("%v\n%s", err, second)
	}
	f.checkInvariants(before, f.objects())
	if one.SentObjects+two.SentObjects != one.PlannedObjects || one.SentBytes+two.SentBytes != one.PlannedBytes {
		t.Errorf("sent %d+%d objects (%d+%d bytes) for a plan of %d (%d): something was sent twice or not at all",
			one.SentObjects, two.SentObjects, one.SentBytes, two.SentBytes, one.PlannedObjects, one.PlannedBytes)
	}
	if got, want := len(offsite.SnapshotNames(sizesOf(f.objects()))), len(f.snapshots()); got != want {
		t.Errorf("the bucket shows %d snapshots, the device has %d", got, want)
	}
}

// summaryLine is the --json summary among a command's output lines.
func summaryLine(out string) []byte {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, `{"message_type":"summary"`) {
			return []byte(l)
		}
	}
	return nil
}

// Issue 22 (done means): config checks the conditions' keys, each bad
// value named with where it was set, and exits 1.
func TestConfigChecksConditionKeys(t *testing.T) {
	c := newCLI(t)
	c.env = append(c.env, "OFFSITE_NETWORK=unmetered", "BACKUP_POWER=plugged", "BACKUP_MIN_BATTERY=101", "BACKUP_RECHECK=soon", "BACKUP_DEFER_ALERT=3 days")
	code, out := c.run("config")
	if code != exitError {
		t.Errorf("config exit %d, want %d", code, exitError)
	}
	for _, want := range []string{
		`OFFSITE_NETWORK (environment): "unmetered" is not any or wifi`,
		`BACKUP_POWER (environment): "plugged" is not any or charging`,
		`BACKUP_MIN_BATTERY (environment): "101" is not a percentage from 0 to 100`,
		`BACKUP_RECHECK (environment): "soon" is not a duration`,
		`BACKUP_DEFER_ALERT (environment): "3 days" is not a duration`,
	} {
		if !strings.Contains(out, "pocketsnap: error: "+want) {
			t.Errorf("config output lacks %q:\n%s", want, out)
		}
	}
}
