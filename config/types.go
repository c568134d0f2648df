package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/pocketsnap/pocketsnap/heartbeat"
	"github.com/pocketsnap/pocketsnap/hooks"
	"github.com/pocketsnap/pocketsnap/schedule"
	"github.com/pocketsnap/pocketsnap/stage"
)

// Type is the kind of value a key takes, and how [Check] checks one.
type Type struct {
	// Name says what the value is, in the documentation.
	Name string
	// check reports what is wrong with a value that is set; nil checks
	// nothing. It is given the key's name for messages that need it.
	check func(key, value string) error
}

// The types of the keys.
var (
	Text     = Type{Name: "text"}
	Dir      = Type{Name: "directory", check: existing(true)}
	File     = Type{Name: "file", check: existing(false)}
	Bool     = Type{Name: "boolean", check: func(_, v string) error { _, err := ParseBool(v); return err }}
	Duration = Type{Name: "duration", check: func(_, v string) error { _, err := ParseDuration(v); return err }}
	Count    = Type{Name: "count", check: func(k, v string) error {
		if _, err := parseCount(v); err != nil {
			return countError(k, v)
		}
		return nil
	}}
	Hour    = Type{Name: "hour (UTC)", check: func(_, v string) error { _, err := schedule.ParseHour(v); return err }}
	Cadence = Type{Name: "cadence", check: func(_, v string) error { _, err := schedule.ParseCadence(v); return err }}
	// PingURL is a heartbeat URL; its token is a secret.
	PingURL = Type{Name: "http(s) URL", check: func(_, v string) error { _, err := heartbeat.New(v); return err }}
	// Endpoint is the bucket's URL: https only, so that credentials never
	// cross the network in clear.
	Endpoint = Type{Name: "https URL", check: func(_, v string) error {
		if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("%q is not an https:// URL: credentials must not cross the network in clear", v)
		}
		return nil
	}}
	Command = Type{Name: "command", check: func(k, v string) error {
		// hooks names the key itself; Check names it already.
		if _, err := hooks.Parse(k, v); err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), k+": "))
		}
		return nil
	}}
	Globs = Type{Name: "glob patterns", check: func(_, v string) error { _, err := stage.Matcher(v); return err }}
)

// Percent is a whole percentage, 0 to 100 (a trailing % allowed).
var Percent = Type{Name: "percentage", check: func(_, v string) error {
	_, err := ParsePercent(v)
	return err
}}

// Choice is a type whose value is one of words, in any case.
func Choice(words ...string) Type {
	return Type{Name: strings.Join(words, "|"), check: func(_, v string) error {
		for _, w := range words {
			if strings.EqualFold(v, w) {
				return nil
			}
		}
		return fmt.Errorf("%q is not %s", v, strings.Join(words, " or "))
	}}
}

// existing checks that a path exists, and is a directory when dir.
func existing(dir bool) func(_, v string) error {
	return func(_, v string) error {
		fi, err := os.Stat(v)
		switch {
		case err != nil:
			return fmt.Errorf("%s does not exist", v)
		case dir && !fi.IsDir():
			return fmt.Errorf("%s is not a directory", v)
		}
		return nil
	}
}

// UnsetCount says what a retention count key (BACKUP_KEEP_DB) means when
// it is unset: its default count, or every snapshot of its kind kept
// (issue 18.19: a hint must not promise "every" where a default applies).
func UnsetCount(key string) string {
	kind := Kind(KeepFamily, key)
	if k, ok := keyRow(key); ok && k.Default != nil {
		return fmt.Sprintf("unset, the newest %s %s snapshots are kept", k.Default(nil), kind)
	}
	return fmt.Sprintf("unset, every %s snapshot is kept", kind)
}

// keyRow is lookupKey, set by init: Count's check reads the key table,
// which holds Count, so a direct reference would be an initialization
// cycle.
var keyRow func(string) (Key, bool)

func init() { keyRow = lookupKey }
