package main

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/hooks"
	"github.com/pocketsnap/pocketsnap/stage"
)

// problem is one thing wrong with the configuration.
type problem struct {
	Key string `json:"key,omitempty"`
	// Source is where the value came from: a file, "environment", a flag,
	// or "default".
	Source  string `json:"source"`
	Problem string `json:"problem"`
}

func (p problem) String() string {
	if p.Key == "" {
		return p.Source + ": " + p.Problem
	}
	return fmt.Sprintf("%s (%s): %s", p.Key, p.Source, p.Problem)
}

// configChecker collects the problems of one configuration.
type configChecker struct {
	c        *config
	problems []problem
}

func (k *configChecker) add(key, format string, a ...any) {
	k.problems = append(k.problems, problem{Key: key, Source: k.c.where(key), Problem: fmt.Sprintf(format, a...)})
}

// set returns the configured value of key; "" when it is unset.
func (k *configChecker) set(key string) string { return k.c.get(key, "") }

// checkConfig validates the configuration and the off-site secrets file
// (nil when absent): one problem per bad value, naming the key and where
// the value came from.
func checkConfig(e *env, offsite *config) []problem {
	k := &configChecker{c: e.cfg, problems: []problem{}}
	k.malformed()
	for _, key := range []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_REPO", "PREFIX", "ROOTFS_DIR", "DB_DIR"} {
		k.directory(key)
	}
	k.recipients(e)
	k.identity(e)
	k.values()
	k.offsite(offsite)
	return k.problems
}

// malformed reports the lines of the env file that are not KEY=VALUE.
func (k *configChecker) malformed() {
	for _, b := range k.c.malformed {
		k.problems = append(k.problems, problem{Source: fmt.Sprintf("%s:%d", b.file, b.line), Problem: b.msg})
	}
}

// directory checks that a directory set explicitly exists; defaults are
// created when needed, or are not used on this machine.
func (k *configChecker) directory(key string) {
	v := k.set(key)
	if v == "" {
		return
	}
	if fi, err := os.Stat(v); err != nil {
		k.add(key, "%s does not exist", v)
	} else if !fi.IsDir() {
		k.add(key, "%s is not a directory", v)
	}
}

func (k *configChecker) recipients(e *env) {
	for _, key := range recipientKeys {
		t, err := e.recipientText(key)
		if err == nil {
			_, _, err = chunkstore.ParseRecipients(t)
		}
		if err != nil {
			k.add(key, "%v", err)
		}
	}
}

// identity checks the identity file: it exists, only its owner can read
// it, and it holds age identities. Its contents are never shown.
func (k *configChecker) identity(e *env) {
	const key = "BACKUP_AGE_IDENTITY"
	path := k.set(key)
	if path == "" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		k.add(key, "%s does not exist", path)
		return
	}
	if fi.Mode().Perm()&0o077 != 0 {
		k.add(key, "%s has mode %04o: others may read the private key (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	if _, err := e.identities(); err != nil {
		k.add(key, "%s is not a valid age identity file", path)
	}
}

// values checks the keys that take a number, a word or a command.
func (k *configChecker) values() {
	for _, key := range []string{"BACKUP_COMPAT", "ENABLE_BACKUP_DAEMON", "ENABLE_OFFSITE_BACKUP"} {
		if v := k.set(key); v != "" {
			if _, err := strconv.ParseBool(v); err != nil {
				k.add(key, "%q is not true or false", v)
			}
		}
	}
	if v := k.set("BACKUP_DAEMON_HOUR"); v != "" {
		if h, err := strconv.Atoi(v); err != nil || h < 0 || h > 23 {
			k.add("BACKUP_DAEMON_HOUR", "%q is not an hour from 0 to 23 (UTC)", v)
		}
	}
	if v := k.set("BACKUP_DB_CADENCE"); v != "" && !slices.Contains([]string{"daily", "weekly", "monthly"}, v) {
		k.add("BACKUP_DB_CADENCE", "%q is not daily, weekly or monthly", v)
	}
	if v := k.set("BACKUP_DAEMON_HC_URL"); v != "" {
		// The URL holds a token: say what is wrong, never what it is.
		if u, err := url.Parse(v); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			k.add("BACKUP_DAEMON_HC_URL", "not an http(s) URL")
		}
	}
	var keep []string
	for key := range k.c.values {
		if strings.HasPrefix(key, keepKeyPrefix) && k.set(key) != "" {
			keep = append(keep, key)
		}
	}
	slices.Sort(keep)
	for _, key := range keep {
		if _, err := keepCount(strings.ToLower(strings.TrimPrefix(key, keepKeyPrefix)), k.set(key)); err != nil {
			k.add(key, "%v", err)
		}
	}
	if v := k.set("DB_IMMUTABLE_GLOBS"); v != "" {
		if _, err := stage.Matcher(v); err != nil {
			k.add("DB_IMMUTABLE_GLOBS", "%v", err)
		}
	}
	for _, key := range []string{"DB_STOP_CMD", "DB_START_CMD", "STACK_STOP_CMD", "STACK_START_CMD"} {
		if _, err := hooks.Parse(key, k.set(key)); err != nil {
			k.add(key, "%s", strings.TrimPrefix(err.Error(), key+": "))
		}
	}
}

// offsite checks the off-site secrets file: it must exist when off-site
// copies are enabled, be readable by its owner only, and name an https
// endpoint, a bucket and credentials.
func (k *configChecker) offsite(f *config) {
	enabled, _ := strconv.ParseBool(k.set("ENABLE_OFFSITE_BACKUP"))
	path := k.c.offsiteFile()
	if f == nil {
		if enabled {
			k.add("ENABLE_OFFSITE_BACKUP", "off-site copies are enabled but %s does not exist", path)
		}
		return
	}
	o := &configChecker{c: f}
	o.malformed()
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		o.problems = append(o.problems, problem{Source: path, Problem: fmt.Sprintf("mode %04o: others may read the S3 credentials (chmod 600 %s)", fi.Mode().Perm(), path)})
	}
	if v := o.set("S3_CA_FILE"); v != "" {
		if _, err := os.Stat(v); err != nil {
			o.add("S3_CA_FILE", "%s does not exist", v)
		}
	}
	if enabled {
		o.required(path)
	}
	k.problems = append(k.problems, o.problems...)
}

// required checks the keys an off-site copy cannot do without.
func (k *configChecker) required(path string) {
	for _, key := range []string{"S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"} {
		if k.set(key) == "" {
			k.problems = append(k.problems, problem{Key: key, Source: path, Problem: "not set, and off-site copies are enabled"})
		}
	}
	if v := k.set("S3_ENDPOINT"); v != "" {
		if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
			k.add("S3_ENDPOINT", "%q is not an https:// URL: credentials must not cross the network in clear", v)
		}
	}
}
