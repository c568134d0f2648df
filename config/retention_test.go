package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/retention"
)

// checkKind stands for manifest.CheckKind, which config may not import:
// it refuses the kind "bad".
func checkKind(kind string) error {
	if kind == "bad" {
		return errors.New("invalid kind")
	}
	return nil
}

// Issue 19.2: the retention counts are read here, typed: the defaults,
// the env file's and the environment's, with the calendar rules for every
// kind; a kind without a count keeps everything.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "pocket.env")
	write(t, envFile, "DATA_DIR="+dir+"\nBACKUP_KEEP_NOTES=2\n", 0o600)
	c, err := Load(Options{EnvFile: envFile, Environ: []string{"BACKUP_KEEP_DB=6"}})
	if err != nil || c.Err() != nil {
		t.Fatal(err, c.Err())
	}
	r, err := c.Retention(retention.Policy{Daily: 3}, checkKind)
	if err != nil {
		t.Fatal(err)
	}
	for kind, want := range map[string]retention.Policy{
		"db":     {Last: 6, Daily: 3},
		"rootfs": {Last: 4, Daily: 3}, // the default
		"notes":  {Last: 2, Daily: 3},
		"photos": {Daily: 3}, // no count: every snapshot is kept
	} {
		if got := r.Of(kind); got != want {
			t.Errorf("Of(%s) = %+v, want %+v", kind, got, want)
		}
	}
}

// Issue 18.19 and 19.2: a bad count names the key and where it was set,
// and says what unset would mean; a kind the caller refuses is refused.
func TestRetentionBadCount(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "pocket.env")
	write(t, envFile, "DATA_DIR="+dir+"\nBACKUP_KEEP_NOTES=0\n", 0o600)
	c, err := Load(Options{EnvFile: envFile})
	if err != nil || c.Err() != nil {
		t.Fatal(err, c.Err())
	}
	_, err = c.Retention(retention.Policy{}, checkKind)
	if want := `BACKUP_KEEP_NOTES (` + envFile + `): "0" is not a positive number of snapshots (unset, every notes snapshot is kept)`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if _, err := KeepCount("db", "x", checkKind); err == nil || !strings.Contains(err.Error(), "unset, the newest 3 db snapshots are kept") {
		t.Errorf("KeepCount(db, x) = %v", err)
	}
	if _, err := KeepCount("bad", "3", checkKind); err == nil || err.Error() != "invalid kind" {
		t.Errorf("KeepCount(bad, 3) = %v", err)
	}
	if n, err := KeepCount("notes", "3", checkKind); n != 3 || err != nil {
		t.Errorf("KeepCount(notes, 3) = %d, %v", n, err)
	}
}
