package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/internal/keyfile"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/remote/s3conf"
)

// Issue 19.3: the bucket's settings are read here from the secrets file,
// which must exist and be private (issue 17.6), and come back typed.
func TestOffsite(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(Options{Environ: []string{"DATA_DIR=" + dir}})
	if err != nil {
		t.Fatal(err)
	}
	var se *SecretsFileError
	if _, err := c.Offsite(); !errors.As(err, &se) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(se.Hint(), "chmod 600") {
		t.Fatalf("no secrets file: %v", err)
	}
	secrets := filepath.Join(dir, "secrets", "offsite.env")
	write(t, secrets, "S3_ENDPOINT=https://s3.example\nS3_BUCKET=b\nS3_REGION=r\nS3_ACCESS_KEY_ID=id\nS3_SECRET_ACCESS_KEY=verysecret\nS3_PREFIX=p/\n", 0o644)
	if c, err = Load(Options{Environ: []string{"DATA_DIR=" + dir}}); err != nil {
		t.Fatal(err)
	}
	var le *keyfile.LooseError
	if _, err := c.Offsite(); !errors.As(err, &le) || le.Path != secrets || le.Hint() != "run: chmod 600 "+secrets {
		t.Fatalf("secrets file of mode 0644: %v", err)
	}
	if err := os.Chmod(secrets, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := c.Offsite()
	want := s3conf.Settings{Endpoint: "https://s3.example", Bucket: "b", Region: "r", AccessKeyID: "id", SecretAccessKey: "verysecret", Prefix: "p/"}
	if err != nil || got != want {
		t.Fatalf("Offsite() = %+v, %v; want %+v", got, err, want)
	}
}

// Issue 17.6: with DATA_DIR on a filesystem that keeps no permission
// bits (an SD card), the doctor and Offsite give the same advice: chmod
// cannot help there, so keep DATA_DIR on internal storage.
func TestSecretsFileWhereChmodFails(t *testing.T) {
	dir := testenv.LooseMount(t)
	secrets := filepath.Join(dir, "secrets", "offsite.env")
	write(t, secrets, "S3_ENDPOINT=https://s3.example\nS3_BUCKET=b\nS3_REGION=r\nS3_ACCESS_KEY_ID=id\nS3_SECRET_ACCESS_KEY=verysecret\n", 0o600)
	c, err := Load(Options{Environ: []string{"DATA_DIR=" + dir, "ENABLE_OFFSITE_BACKUP=yes"}})
	if err != nil {
		t.Fatal(err)
	}
	var le *keyfile.LooseError
	if _, err := c.Offsite(); !errors.As(err, &le) || le.FS == "" {
		t.Fatalf("Offsite() on a filesystem without permission bits: %v", err)
	}
	want := fmt.Sprintf("%s: mode %04o: others may read the S3 credentials (%s)", secrets, le.Mode, le.Hint())
	var got []string
	for _, p := range Check(c, nil) {
		got = append(got, p.String())
	}
	if !slices.Contains(got, want) || !strings.Contains(want, "keep DATA_DIR") {
		t.Errorf("problems:\n%s\nwant among them:\n%s", strings.Join(got, "\n"), want)
	}
}

// Issue 19.3: OFFSITE_MAX_UPLOAD_PER_RUN is read here, binary as every
// size; unset or 0 is no cap, and a bad one names the key and its source.
func TestMaxUpload(t *testing.T) {
	for v, want := range map[string]int64{"": 0, "0": 0, "64M": 64 << 20, "1000": 1000} {
		c, err := Load(Options{Environ: []string{"OFFSITE_MAX_UPLOAD_PER_RUN=" + v}})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := c.MaxUpload(); n != want || err != nil {
			t.Errorf("MaxUpload(%q) = %d, %v; want %d", v, n, err, want)
		}
	}
	c, err := Load(Options{Environ: []string{"OFFSITE_MAX_UPLOAD_PER_RUN=lots"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.MaxUpload(); err == nil || !strings.HasPrefix(err.Error(), "OFFSITE_MAX_UPLOAD_PER_RUN (environment): invalid size") {
		t.Errorf("MaxUpload(lots) = %v", err)
	}
}
