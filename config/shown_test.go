package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Issue 19: what `pocketsnap config` lists is config's: every key once,
// in the table's order, a family's members only when set, the secrets
// file's keys only when it exists, and a secret's value never. Issue
// 18.15's ENABLE_BACKUP_DAEMON=1 shows as given, from the env file.
func TestShown(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "pocket.env")
	write(t, envFile, "DATA_DIR="+dir+"\nENABLE_BACKUP_DAEMON=1\nBACKUP_KEEP_NOTES=2\n", 0o600)
	c, err := Load(Options{EnvFile: envFile, Environ: []string{"BACKUP_KEEP_DB=6", "PREFIX=" + dir}})
	if err != nil {
		t.Fatal(err)
	}
	shown := c.Shown()
	index := func(key string) int { return slices.IndexFunc(shown, func(s Shown) bool { return s.Key == key }) }
	for _, want := range []Shown{
		{"ENABLE_BACKUP_DAEMON", "1", envFile},
		{"BACKUP_KEEP_DB", "6", SourceEnv},
		{"BACKUP_KEEP_NOTES", "2", envFile},
		{"BACKUP_KEEP_ROOTFS", "4", SourceDefault},
	} {
		if i := index(want.Key); i < 0 || shown[i] != want {
			t.Errorf("%s shown as %+v, want %+v", want.Key, shown[max(i, 0)], want)
		}
	}
	if i := index("ROOTFS_DIR"); i < 0 || !strings.HasPrefix(shown[i].Source, SourceDefault+", ") {
		t.Errorf("ROOTFS_DIR's default does not name the layout it found: %+v", shown)
	}
	if i := index("S3_BUCKET"); i >= 0 {
		t.Errorf("S3_BUCKET shown without a secrets file: %+v", shown[i])
	}
	for i, s := range shown {
		if index(s.Key) != i {
			t.Errorf("%s shown twice", s.Key)
		}
	}

	write(t, filepath.Join(dir, "secrets", "offsite.env"), "S3_BUCKET=b\nS3_SECRET_ACCESS_KEY=real$secret\n", 0o600)
	if c, err = Load(Options{EnvFile: envFile}); err != nil {
		t.Fatal(err)
	}
	shown = c.Shown()
	if i := index("S3_BUCKET"); i < 0 || shown[i].Value != "b" {
		t.Errorf("S3_BUCKET not shown from the secrets file: %+v", shown)
	}
	if i := index("S3_SECRET_ACCESS_KEY"); i < 0 || shown[i].Value != "(set)" {
		t.Errorf("the secret key shown as %+v, want (set)", shown[max(i, 0)])
	}
	if i := index("S3_REGION"); i < 0 || shown[i].Value != "(unset)" {
		t.Errorf("an unset key shown as %+v, want (unset)", shown[max(i, 0)])
	}
}
