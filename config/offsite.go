package config

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pocketsnap/pocketsnap/internal/keyfile"
	"github.com/pocketsnap/pocketsnap/remote/s3conf"
)

// SecretsFileError is a secrets file that could not be opened.
type SecretsFileError struct {
	Err error // the open's
}

func (e *SecretsFileError) Error() string { return "offsite secrets file: " + e.Err.Error() }

// Unwrap returns the open's error.
func (e *SecretsFileError) Unwrap() error { return e.Err }

// Hint says how to create the file.
func (e *SecretsFileError) Hint() string {
	return "create it with S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY (and S3_PREFIX) and chmod 600 it"
}

// Offsite returns the bucket's settings from the secrets file (see
// SecretsFile). It fails with a *SecretsFileError when the file cannot be
// opened, and a *keyfile.LooseError when anyone but its owner may read it
// (issue 17.6).
func (c *Config) Offsite() (s3conf.Settings, error) {
	path := c.SecretsFile()
	f, err := os.Open(path)
	if err != nil {
		return s3conf.Settings{}, &SecretsFileError{Err: err}
	}
	err = c.checkSecretsMode(f)
	f.Close()
	if err != nil {
		return s3conf.Settings{}, err
	}
	if err := c.SecretsErr(); err != nil {
		return s3conf.Settings{}, err
	}
	return s3conf.Settings{
		Endpoint:        c.Value("S3_ENDPOINT"),
		Bucket:          c.Value("S3_BUCKET"),
		Region:          c.Value("S3_REGION"),
		AccessKeyID:     c.Value("S3_ACCESS_KEY_ID"),
		SecretAccessKey: c.Value("S3_SECRET_ACCESS_KEY"),
		Prefix:          c.Value("S3_PREFIX"),
		CAFile:          c.Value("S3_CA_FILE"),
		DNSServers:      c.Value("S3_DNS_SERVERS"),
	}, nil
}

// checkSecretsMode returns a *keyfile.LooseError when anyone but its
// owner may read f, the open secrets file.
func (c *Config) checkSecretsMode(f *os.File) error {
	path := c.SecretsFile()
	return keyfile.Check(f, "offsite secrets file", path,
		"keep DATA_DIR (and so "+filepath.Dir(path)+") on internal storage, e.g. in Termux's $HOME, and put only BACKUP_DIR on the SD card; then chmod 600 the file")
}

// MaxUpload returns OFFSITE_MAX_UPLOAD_PER_RUN, the bytes one push may
// send (see ParseSize); 0, unset or 0, is no cap. An error names the key
// and where it was set.
func (c *Config) MaxUpload() (int64, error) {
	const key = "OFFSITE_MAX_UPLOAD_PER_RUN"
	v := c.Value(key)
	if v == "" || v == "0" {
		return 0, nil
	}
	n, err := ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("%s (%s): %w", key, c.Source(key), err)
	}
	return n, nil
}
