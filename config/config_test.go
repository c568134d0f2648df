package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// The sources in order: default < env file < environment < flag.
func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "pocket.env")
	write(t, envFile, "DATA_DIR="+dir+"\nBACKUP_KEEP_DB=5\nBACKUP_KEEP_NOTES=2\nBACKUP_REPO=/file/repo\nUNKNOWN_TO_US=x\n", 0o600)
	c, err := Load(Options{EnvFile: envFile, Environ: []string{"BACKUP_KEEP_DB=6", "BACKUP_REPO=/env/repo", "S3_BUCKET=ignored"}})
	if err != nil || c.Err() != nil {
		t.Fatal(err, c.Err())
	}
	c.Set("BACKUP_REPO", "/flag/repo", "--repo")
	for _, tc := range []struct{ key, value, source string }{
		{"DATA_DIR", dir, envFile},
		{"BACKUP_DIR", filepath.Join(dir, "backups"), SourceDefault},
		{"BACKUP_KEEP_DB", "6", SourceEnv},
		{"BACKUP_KEEP_ROOTFS", "4", SourceDefault},
		{"BACKUP_KEEP_NOTES", "2", envFile},
		{"BACKUP_REPO", "/flag/repo", "--repo"},
		{"S3_BUCKET", "", SourceDefault},
	} {
		if v, s := c.Value(tc.key), c.Source(tc.key); v != tc.value || s != tc.source {
			t.Errorf("%s = %q from %s, want %q from %s", tc.key, v, s, tc.value, tc.source)
		}
	}
	if got := strings.Join(c.Members("BACKUP_KEEP_<KIND>"), " "); got != "BACKUP_KEEP_DB BACKUP_KEEP_NOTES BACKUP_KEEP_ROOTFS" {
		t.Errorf("members %s", got)
	}
	if k := Kind("BACKUP_KEEP_<KIND>", "BACKUP_KEEP_NOTES"); k != "notes" {
		t.Errorf("kind %q", k)
	}
	// Issue 19: the key of a kind's setting is spelled here only.
	for kind, want := range map[string]string{"db": "DB_STOP_CMD", "notes": "NOTES_STOP_CMD", "my-app": "MY_APP_STOP_CMD"} {
		if got := KindKey("<KIND>_STOP_CMD", kind); got != want || !mustKey("<KIND>_STOP_CMD").member(got) {
			t.Errorf("KindKey(%s) = %s, want %s, a member of the family", kind, got, want)
		}
	}
}

// Issue 18.15: every reader gets the same boolean, whatever its spelling.
func TestBoolKeys(t *testing.T) {
	for _, v := range []string{"1", "yes", "ON", "True"} {
		c, err := Load(Options{EnvFile: os.DevNull, Environ: []string{"ENABLE_BACKUP_DAEMON=" + v}})
		if err != nil {
			t.Fatal(err)
		}
		if on, err := c.Bool("ENABLE_BACKUP_DAEMON"); err != nil || !on {
			t.Errorf("ENABLE_BACKUP_DAEMON=%s: %v, %v", v, on, err)
		}
	}
	c, _ := Load(Options{EnvFile: os.DevNull, Environ: []string{"BACKUP_COMPAT=maybe"}})
	if _, err := c.Bool("BACKUP_COMPAT"); err == nil || err.Error() != `BACKUP_COMPAT (environment): "maybe" is not true or false (nor 1/0, yes/no, on/off)` {
		t.Errorf("error %v", err)
	}
}

// Issue 18.14 and 19: Enabled says why a switch is off, the one way the
// daemon and push both say it: not set, or its value and where from.
func TestEnabled(t *testing.T) {
	c, err := Load(Options{EnvFile: os.DevNull, Environ: []string{"ENABLE_BACKUP_DAEMON=1", "ENABLE_OFFSITE_BACKUP=off", "BACKUP_COMPAT=maybe"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, why string
		on, bad  bool
	}{
		{"ENABLE_BACKUP_DAEMON", "", true, false},
		{"ENABLE_OFFSITE_BACKUP", `ENABLE_OFFSITE_BACKUP is "off" (environment)`, false, false},
		{"BACKUP_COMPAT", "", false, true},
	} {
		on, why, err := c.Enabled(tc.key)
		if on != tc.on || why != tc.why || (err != nil) != tc.bad {
			t.Errorf("Enabled(%s) = %v, %q, %v", tc.key, on, why, err)
		}
	}
	c, _ = Load(Options{EnvFile: os.DevNull})
	if on, why, err := c.Enabled("ENABLE_BACKUP_DAEMON"); on || why != "ENABLE_BACKUP_DAEMON is not set" || err != nil {
		t.Errorf("Enabled unset = %v, %q, %v", on, why, err)
	}
}

// Issue 18.17: S3 credentials in .env are refused, naming the key and
// the secrets file, never the value; the secrets file gives them.
func TestS3KeysInEnvFileRefused(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	write(t, envFile, "DATA_DIR="+dir+"\nS3_SECRET_ACCESS_KEY=verysecret\n", 0o600)
	write(t, filepath.Join(dir, "secrets", "offsite.env"), "S3_BUCKET=b\nS3_SECRET_ACCESS_KEY=real$secret\nBACKUP_DIR=/x\n", 0o600)
	c, err := Load(Options{EnvFile: envFile, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	msg := c.Err().Error()
	want := envFile + ":2: S3_SECRET_ACCESS_KEY: S3 settings belong in the secrets file " + filepath.Join(dir, "secrets", "offsite.env") + " (mode 0600), not in " + envFile
	if !strings.Contains(msg, want) {
		t.Errorf("error %q, want %q", msg, want)
	}
	if !strings.Contains(msg, "offsite.env:3: BACKUP_DIR: not a key of the secrets file") {
		t.Errorf("error %q does not refuse BACKUP_DIR in the secrets file", msg)
	}
	if strings.Contains(msg, "verysecret") || strings.Contains(msg, "real$secret") {
		t.Errorf("error %q quotes a secret", msg)
	}
	if v := c.Value("S3_SECRET_ACCESS_KEY"); v != "real$secret" {
		t.Errorf("S3_SECRET_ACCESS_KEY = %q, want the secrets file's literal value", v)
	}
	if c.Value("BACKUP_DIR") == "/x" {
		t.Error("the secrets file set BACKUP_DIR")
	}
}

func TestLoadEnvFileChoice(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if _, err := Load(Options{EnvFile: "missing.env", Environ: []string{}}); err == nil {
		t.Error("an explicit missing env file was accepted")
	}
	if _, err := Load(Options{Environ: []string{"POCKETSNAP_ENV_FILE=missing.env"}}); err == nil {
		t.Error("a missing $POCKETSNAP_ENV_FILE was accepted")
	}
	c, err := Load(Options{Environ: []string{}})
	if err != nil || c.File() != "" {
		t.Errorf("no ./.env: %v, file %q", err, c.File())
	}
	write(t, ".env", "BACKUP_KEEP_DB=7\n", 0o600)
	c, err = Load(Options{Environ: []string{}})
	if err != nil || c.File() != ".env" || c.Value("BACKUP_KEEP_DB") != "7" {
		t.Errorf("./.env: %v, file %q", err, c.File())
	}
}

// Check reports each problem once, with its key and source, in the
// order of the table; secrets are never quoted.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "broken.env")
	write(t, envFile, strings.Join([]string{
		"DATA_DIR=" + dir,
		"BACKUP_DAEMON_HOUR=24",
		"BACKUP_KEEP_NOTES=0",
		"NOTES_STOP_CMD='unterminated",
		"ROOTFS_DIR=/nonexistent",
		"ENABLE_OFFSITE_BACKUP=yes",
		"BACKUP_DAEMON_HC_URL=hc.example/secret-token",
	}, "\n"), 0o600)
	write(t, filepath.Join(dir, "secrets", "offsite.env"), "S3_ENDPOINT=http://s3\nS3_SECRET_ACCESS_KEY=verysecret\n", 0o644)
	c, err := Load(Options{EnvFile: envFile, Environ: []string{"BACKUP_AGE_RECIPIENT=age1bad"}})
	if err != nil {
		t.Fatal(err)
	}
	ps := Check(c, map[string]Checker{"BACKUP_AGE_RECIPIENT": func(name, v string) error {
		return os.ErrInvalid
	}})
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
		if strings.Contains(p.String(), "secret") && !strings.Contains(p.String(), "secrets") {
			t.Errorf("problem %q quotes a secret", p)
		}
	}
	secrets := filepath.Join(dir, "secrets", "offsite.env")
	want := []string{
		envFile + ":4: NOTES_STOP_CMD: unterminated quote",
		"BACKUP_AGE_RECIPIENT (environment): invalid argument",
		"ROOTFS_DIR (" + envFile + "): /nonexistent does not exist",
		`BACKUP_DAEMON_HOUR (` + envFile + `): "24" is not an hour from 0 to 23 (UTC)`,
		"BACKUP_DAEMON_HC_URL (" + envFile + "): not an http or https URL",
		`BACKUP_KEEP_NOTES (` + envFile + `): "0" is not a positive number of snapshots (unset, every notes snapshot is kept)`,
		secrets + ": mode 0644: others may read the S3 credentials (chmod 600 " + secrets + ")",
		"S3_BUCKET (" + secrets + "): not set, and off-site copies are enabled",
		"S3_ACCESS_KEY_ID (" + secrets + "): not set, and off-site copies are enabled",
		`S3_ENDPOINT (` + secrets + `): "http://s3" is not an https:// URL: credentials must not cross the network in clear`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUnknownKeyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Value of a key not in the table did not panic")
		}
	}()
	(&Config{}).Value("BACKUP_TYPO")
}

// Issue 18.18: the README's table of where things go on the phone is
// what the defaults give with Termux's HOME and PREFIX.
func TestPhoneLayoutDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "### Where things go on the phone\n")
	if !ok {
		t.Fatal("the README has no section on where things go on the phone")
	}
	c, err := Load(Options{EnvFile: os.DevNull, Environ: []string{
		"HOME=/data/data/com.termux/files/home", "PREFIX=/data/data/com.termux/files/usr",
	}})
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for line := range strings.Lines(section) {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[3]), "`/") {
			continue
		}
		key, path := strings.Trim(strings.TrimSpace(cells[2]), "`"), strings.Trim(strings.TrimSpace(cells[3]), "`")
		want := c.SecretsFile()
		if key != "—" {
			want = c.Value(key)
		}
		if path != want {
			t.Errorf("the README puts %s at %s; the default is %s", cells[1], path, want)
		}
		rows++
	}
	if rows != 6 {
		t.Errorf("found %d rows of paths in the README's phone layout, want 6", rows)
	}
}

// Issue 22: the conditions' keys are checked by the doctor: words, a
// percentage, durations with days, a command; good values pass.
func TestConditionKeys(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "conditions.env")
	write(t, envFile, strings.Join([]string{
		"DATA_DIR=" + dir,
		"OFFSITE_NETWORK=unmetered",
		"BACKUP_POWER=plugged",
		"BACKUP_MIN_BATTERY=120",
		"BACKUP_RECHECK=-5m",
		"BACKUP_DEFER_ALERT=3 days",
		"OFFSITE_WHEN_CMD='unterminated",
	}, "\n"), 0o600)
	c, err := Load(Options{EnvFile: envFile})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range Check(c, nil) {
		got = append(got, p.String())
	}
	want := []string{
		envFile + ":7: OFFSITE_WHEN_CMD: unterminated quote",
		`OFFSITE_NETWORK (` + envFile + `): "unmetered" is not any or wifi`,
		`BACKUP_POWER (` + envFile + `): "plugged" is not any or charging`,
		`BACKUP_MIN_BATTERY (` + envFile + `): "120" is not a percentage from 0 to 100`,
		`BACKUP_RECHECK (` + envFile + `): "-5m" is not a duration such as 90s, 15m, 6h or 7d`,
		`BACKUP_DEFER_ALERT (` + envFile + `): "3 days" is not a duration such as 90s, 15m, 6h or 7d`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	write(t, envFile, "DATA_DIR="+dir+"\nOFFSITE_NETWORK=WiFi\nBACKUP_POWER=charging\nBACKUP_MIN_BATTERY=25%\nBACKUP_DEFER_ALERT=1d12h\nOFFSITE_WHEN_CMD=sh -c 'exit 0'\n", 0o600)
	if c, err = Load(Options{EnvFile: envFile}); err != nil {
		t.Fatal(err)
	}
	if ps := Check(c, nil); len(ps) != 0 {
		t.Errorf("good values refused: %v", ps)
	}
	if d, err := c.Duration("BACKUP_RECHECK"); err != nil || d != 30*time.Minute {
		t.Errorf("BACKUP_RECHECK default: %v %v", d, err)
	}
	if d, err := c.Duration("BACKUP_DEFER_ALERT"); err != nil || d != 36*time.Hour {
		t.Errorf("BACKUP_DEFER_ALERT: %v %v", d, err)
	}
}
