package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// config holds the settings read from the env file and the environment.
// Flags override the environment, which overrides the file.
type config struct {
	values map[string]string
	source map[string]string // key → where its value came from
	file   string
	// malformed are the env file's lines that are not KEY=VALUE; they
	// are left out of values.
	malformed []*badLine
}

// badLine is a malformed line of an env file.
type badLine struct {
	file string
	line int
	msg  string
}

func (b *badLine) Error() string { return fmt.Sprintf("%s:%d: %s", b.file, b.line, b.msg) }

// err returns the malformed lines as one error; nil when there are none.
func (c *config) err() error {
	errs := make([]error, len(c.malformed))
	for i, b := range c.malformed {
		errs[i] = b
	}
	return errors.Join(errs...)
}

// keepKeyPrefix starts the retention keys BACKUP_KEEP_<KIND>, read from
// the environment for every kind.
const keepKeyPrefix = "BACKUP_KEEP_"

// configKeys are the keys pocketsnap reads; the environment is consulted
// for these (and the keepKeyPrefix keys) only.
var configKeys = []string{
	"DATA_DIR", "BACKUP_DIR", "BACKUP_KEEP_DB", "BACKUP_KEEP_ROOTFS",
	"BACKUP_AGE_RECIPIENT", "BACKUP_AGE_RECIPIENTS_FILE", "BACKUP_AGE_IDENTITY",
	"ENABLE_BACKUP_DAEMON", "BACKUP_DAEMON_HOUR", "BACKUP_DB_CADENCE", "BACKUP_DAEMON_HC_URL",
	"ENABLE_OFFSITE_BACKUP", "DB_DIR", "ROOTFS_DIR", "PREFIX", "BACKUP_REPO",
	"STACK_STOP_CMD", "STACK_START_CMD", "BACKUP_COMPAT",
	"DB_STOP_CMD", "DB_START_CMD", "DB_IMMUTABLE_GLOBS", "OFFSITE_MAX_UPLOAD_PER_RUN",
	"BACKUP_REPO_FINGERPRINT", "PACK_PADDING",
}

// perKindKey reports whether k is a per-kind key read from the
// environment: BACKUP_KEEP_<KIND>, <KIND>_STOP_CMD, <KIND>_START_CMD,
// <KIND>_IMMUTABLE_GLOBS.
func perKindKey(k string) bool {
	return strings.HasPrefix(k, keepKeyPrefix) || strings.HasSuffix(k, "_STOP_CMD") ||
		strings.HasSuffix(k, "_START_CMD") || strings.HasSuffix(k, "_IMMUTABLE_GLOBS")
}

// loadConfig reads the env file (when given or present) and overlays the
// environment.
func loadConfig(envFile string) (*config, error) {
	c := &config{values: map[string]string{}, source: map[string]string{}}
	explicit := envFile != ""
	if !explicit {
		envFile = os.Getenv("POCKETSNAP_ENV_FILE")
		explicit = envFile != ""
	}
	if !explicit {
		envFile = ".env"
	}
	if err := c.readFile(envFile); err != nil {
		if explicit || !os.IsNotExist(err) {
			return nil, err
		}
	} else {
		c.file = envFile
	}
	for _, k := range configKeys {
		if v, ok := os.LookupEnv(k); ok {
			c.set(k, v, "environment")
		}
	}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); perKindKey(k) {
			c.set(k, v, "environment")
		}
	}
	return c, nil
}

func (c *config) set(k, v, src string) {
	c.values[k] = v
	c.source[k] = src
}

// readFile parses a dotenv file: KEY=VALUE lines, optional "export ",
// single or double quotes, '#' comments. A malformed line is recorded in
// malformed, naming the file and line.
func (c *config) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			c.malformed = append(c.malformed, &badLine{path, n, "expected KEY=VALUE"})
			continue
		}
		v, err := unquote(strings.TrimSpace(v))
		if err != nil {
			c.malformed = append(c.malformed, &badLine{path, n, k + ": " + err.Error()})
			continue
		}
		c.set(k, v, path)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("failed to read %s: %w", path, err)
	}
	return nil
}

func unquote(v string) (string, error) {
	switch {
	case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
		return v[1 : len(v)-1], nil
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
		return strconv.Unquote(v)
	case strings.HasPrefix(v, "'") || strings.HasPrefix(v, `"`):
		return "", fmt.Errorf("unterminated quote")
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v, nil
}

// get returns a key's value or def.
func (c *config) get(k, def string) string {
	if v, ok := c.values[k]; ok && v != "" {
		return v
	}
	return def
}

// where names the origin of a key's value, for error messages.
func (c *config) where(k string) string {
	if s, ok := c.source[k]; ok {
		return s
	}
	return "default"
}

func (c *config) dataDir() string {
	if d := c.get("DATA_DIR", ""); d != "" {
		return d
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "pocketsnap")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "pocketsnap")
	}
	return "pocketsnap-data"
}

func (c *config) backupDir() string {
	return c.get("BACKUP_DIR", filepath.Join(c.dataDir(), "backups"))
}

// repoDir is the repository: BACKUP_REPO, or ${BACKUP_DIR}/repo.
func (c *config) repoDir() string {
	return c.get("BACKUP_REPO", filepath.Join(c.backupDir(), "repo"))
}

// defaultPrefix is Termux's $PREFIX.
const defaultPrefix = "/data/data/com.termux/files/usr"

func (c *config) rootfsDir() string {
	prefix := c.get("PREFIX", defaultPrefix)
	return c.get("ROOTFS_DIR", filepath.Join(prefix, "var/lib/proot-distro/installed-rootfs/debian"))
}

func (c *config) dbDir() string {
	return c.get("DB_DIR", filepath.Join(c.rootfsDir(), "var/lib/conduwuit/db"))
}

// offsiteFile is the secrets file of the off-site copy.
func (c *config) offsiteFile() string {
	return filepath.Join(c.dataDir(), "secrets", "offsite.env")
}
