package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Config is a loaded configuration: each key's value and where it came
// from.
type Config struct {
	values  map[string]string
	source  map[string]string // key → its value's origin
	environ map[string]string
	file    string // the env file read; "" when none
	// bad are the lines of the env file and the secrets file that could
	// not be read.
	bad []*LineError
	// secrets is whether the secrets file was read; secretsErr why it
	// could not be.
	secrets    bool
	secretsErr error
}

// Options say where [Load] reads.
type Options struct {
	// EnvFile is the env file. "" means $POCKETSNAP_ENV_FILE, else ./.env
	// when it exists.
	EnvFile string
	// Environ is the environment, as os.Environ returns it; nil means
	// the process's.
	Environ []string
}

// SourceDefault, SourceEnv name the origin of a value that comes from no
// file or flag.
const (
	SourceDefault = "default"
	SourceEnv     = "environment"
)

// Load reads the configuration: the env file, the environment, then the
// secrets file of the DATA_DIR they give. It fails only when a file named
// explicitly cannot be read; the lines it could not read are kept for
// [Config.Err] and [Check].
func Load(o Options) (*Config, error) {
	if o.Environ == nil {
		o.Environ = os.Environ()
	}
	c := &Config{values: map[string]string{}, source: map[string]string{}, environ: map[string]string{}}
	for _, kv := range o.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			c.environ[k] = v
		}
	}
	envFile, explicit := o.EnvFile, o.EnvFile != ""
	if !explicit {
		envFile, explicit = c.environ["POCKETSNAP_ENV_FILE"], c.environ["POCKETSNAP_ENV_FILE"] != ""
	}
	if !explicit {
		envFile = ".env"
	}
	entries, err := c.read(envFile, &Resolver{Env: c.env, Default: c.fileDefault})
	switch {
	case err == nil:
		c.file = envFile
	case explicit || !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	var misplaced []Entry
	for _, e := range entries {
		switch k, ok := lookupKey(e.Key); {
		case ok && k.From&FromSecrets != 0:
			misplaced = append(misplaced, e)
		case ok:
			c.Set(e.Key, e.Value, envFile)
		}
	}
	for name, v := range c.environ {
		if k, ok := lookupKey(name); ok && k.From&FromEnv != 0 {
			c.Set(name, v, SourceEnv)
		}
	}
	// Issue 18.17: the S3 keys are refused where they would be ignored.
	for _, e := range misplaced {
		c.bad = append(c.bad, &LineError{File: envFile, Line: e.Line, Key: e.Key,
			Msg: fmt.Sprintf("S3 settings belong in the secrets file %s (mode 0600), not in %s", c.SecretsFile(), envFile)})
	}
	c.readSecrets()
	return c, nil
}

// read parses one file into its entries, keeping its bad lines.
func (c *Config) read(path string, res *Resolver) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, bad, err := Parse(f, path, res)
	c.bad = append(c.bad, bad...)
	return entries, err
}

// readSecrets reads the secrets file, when there is one: literal values
// of the S3_* keys only.
func (c *Config) readSecrets() {
	path := c.SecretsFile()
	entries, err := c.read(path, nil)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			c.secretsErr = fmt.Errorf("failed to read the secrets file: %w", err)
		}
		return
	}
	c.secrets = true
	for _, e := range entries {
		if k, ok := lookupKey(e.Key); ok && k.From&FromSecrets != 0 {
			c.Set(e.Key, e.Value, path)
			continue
		}
		c.bad = append(c.bad, &LineError{File: path, Line: e.Line, Key: e.Key, Msg: "not a key of the secrets file (only S3_* keys go here)"})
	}
}

// Getenv returns an environment variable of the environment c was loaded
// from; "" when it is unset.
func (c *Config) Getenv(name string) string { return c.environ[name] }

// env looks up an environment variable.
func (c *Config) env(name string) (string, bool) {
	v, ok := c.environ[name]
	return v, ok
}

// fileDefault is the default of a key, for a reference in the env file:
// computed from the earlier keys of the file and the environment.
func (c *Config) fileDefault(name string, earlier map[string]string) (string, bool) {
	k, ok := lookupKey(name)
	if !ok || k.Default == nil {
		return "", false
	}
	view := &Config{values: map[string]string{}, environ: c.environ}
	for n, v := range c.environ {
		if _, ok := lookupKey(n); ok {
			view.values[n] = v
		}
	}
	for n, v := range earlier {
		if _, ok := lookupKey(n); ok {
			view.values[n] = v
		}
	}
	return k.Default(view), true
}

// mustKey returns the row of a key the program reads; a name that is not
// in the table is a programming error.
func mustKey(name string) Key {
	k, ok := lookupKey(name)
	if !ok {
		panic("config: no key " + name)
	}
	return k
}

// Set sets a key's value, from source: a flag such as "--repo".
func (c *Config) Set(name, value, source string) {
	mustKey(name)
	c.values[name] = value
	c.source[name] = source
}

// Value returns the key's value; its default when it is not set or
// empty; "" when it has no default.
func (c *Config) Value(name string) string {
	k := mustKey(name)
	if v := c.values[name]; v != "" {
		return v
	}
	if k.Default != nil {
		return k.Default(c)
	}
	return ""
}

// IsSet reports whether the key has a value of its own, not a default.
func (c *Config) IsSet(name string) bool {
	mustKey(name)
	return c.values[name] != ""
}

// Source names where the key's value comes from: the env file's path,
// "environment", the secrets file's path, a flag, or "default".
func (c *Config) Source(name string) string {
	mustKey(name)
	if s, ok := c.source[name]; ok && c.values[name] != "" {
		return s
	}
	return SourceDefault
}

// Bool returns a boolean key's value. A bad value is an error naming the
// key and its source.
func (c *Config) Bool(name string) (bool, error) {
	b, err := ParseBool(c.Value(name))
	if err != nil {
		return false, fmt.Errorf("%s (%s): %w", name, c.Source(name), err)
	}
	return b, nil
}

// Enabled reports whether the boolean key is on and, when it is not,
// says why: "KEY is not set", or its value and where it was set. A value
// that is not a boolean is an error naming the key and its source.
func (c *Config) Enabled(name string) (on bool, why string, err error) {
	on, err = c.Bool(name)
	switch {
	case err != nil:
		return false, "", err
	case on:
		return true, "", nil
	case !c.IsSet(name):
		return false, name + " is not set", nil
	}
	return false, fmt.Sprintf("%s is %q (%s)", name, c.Value(name), c.Source(name)), nil
}

// Duration returns a duration key's value. A bad value is an error
// naming the key and its source.
func (c *Config) Duration(name string) (time.Duration, error) {
	d, err := ParseDuration(c.Value(name))
	if err != nil {
		return 0, fmt.Errorf("%s (%s): %w", name, c.Source(name), err)
	}
	return d, nil
}

// Members returns the keys of a family (such as BACKUP_KEEP_<KIND>) that
// have a value, their own or a default, sorted: the family's own rows
// (BACKUP_KEEP_DB) and the members that are set.
func (c *Config) Members(family string) []string {
	f := mustKey(family)
	var names []string
	for _, k := range Keys {
		if !k.Family() && f.member(k.Name) && c.Value(k.Name) != "" {
			names = append(names, k.Name)
		}
	}
	for n, v := range c.values {
		if v != "" && f.member(n) && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Kind returns the kind a family member is for, lower case: "notes" for
// BACKUP_KEEP_NOTES of BACKUP_KEEP_<KIND>.
func Kind(family, name string) string {
	pre, suf, _ := strings.Cut(family, kindPattern)
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(name, pre), suf))
}

// KindKey returns the member of a family for kind, the inverse of Kind:
// NOTES_STOP_CMD for notes in <KIND>_STOP_CMD, MY_APP_STOP_CMD for my-app.
func KindKey(family, kind string) string {
	return strings.Replace(family, kindPattern, strings.ToUpper(strings.ReplaceAll(kind, "-", "_")), 1)
}

// File returns the env file that was read; "" when there was none.
func (c *Config) File() string { return c.file }

// SecretsFile returns the path of the secrets file of the off-site copy,
// ${DATA_DIR}/secrets/offsite.env.
func (c *Config) SecretsFile() string {
	return filepath.Join(c.Value("DATA_DIR"), "secrets", "offsite.env")
}

// SecretsErr returns why the secrets file could not be read, when it
// exists; nil otherwise.
func (c *Config) SecretsErr() error { return c.secretsErr }

// HasSecrets reports whether the secrets file was read.
func (c *Config) HasSecrets() bool { return c.secrets }

// Err returns the lines of the files that could not be read, as one
// error; nil when there are none.
func (c *Config) Err() error {
	errs := make([]error, len(c.bad))
	for i, b := range c.bad {
		errs[i] = b
	}
	return errors.Join(errs...)
}
