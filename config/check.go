package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pocketsnap/pocketsnap/internal/keyfile"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	Key string `json:"key,omitempty"`
	// Source is where the value came from: a file (with its line, for a
	// line that could not be read), "environment", a flag, or "default".
	Source  string `json:"source"`
	Problem string `json:"problem"`
}

func (p Problem) String() string {
	if p.Key == "" {
		return p.Source + ": " + p.Problem
	}
	return fmt.Sprintf("%s (%s): %s", p.Key, p.Source, p.Problem)
}

// Checker checks a key's value beyond its type, with what only the caller
// knows (age recipients, repository kinds). It is given the key's name.
type Checker func(name, value string) error

// Check returns every problem of the configuration, in the order of
// [Keys]: the lines that could not be read, then each value that is set
// and does not parse (checked by extra[key's row] or extra[key's family]
// when given, else by its type), then the off-site copy's needs when ENABLE_OFFSITE_BACKUP is
// true. Values are quoted only when they are not secrets.
func Check(c *Config, extra map[string]Checker) []Problem {
	ps := []Problem{}
	for _, b := range c.bad {
		msg := b.Msg
		if b.Key != "" {
			msg = b.Key + ": " + msg
		}
		ps = append(ps, Problem{Source: fmt.Sprintf("%s:%d", b.File, b.Line), Problem: msg})
	}
	var offsite []Problem
	for _, k := range Keys {
		names := []string{k.Name}
		if k.Family() {
			names = c.Members(k.Name)
		}
		for _, name := range names {
			if !c.IsSet(name) || k.Family() && rowOf(name) {
				continue
			}
			check := k.Type.check
			if x, ok := extra[familyOf(name)]; ok {
				check = x
			}
			if x, ok := extra[k.Name]; ok {
				check = x
			}
			if check == nil {
				continue
			}
			if err := check(name, c.values[name]); err != nil {
				p := Problem{Key: name, Source: c.Source(name), Problem: err.Error()}
				if k.From&FromSecrets != 0 {
					offsite = append(offsite, p)
				} else {
					ps = append(ps, p)
				}
			}
		}
	}
	return append(ps, c.checkOffsite(offsite)...)
}

// checkOffsite checks the secrets file: it must exist when off-site
// copies are enabled, be readable by its owner only, and give every
// key the copy needs. found are the problems of its values.
func (c *Config) checkOffsite(found []Problem) []Problem {
	enabled, _ := ParseBool(c.Value("ENABLE_OFFSITE_BACKUP"))
	path := c.SecretsFile()
	var ps []Problem
	switch {
	case c.secretsErr != nil:
		return []Problem{{Source: path, Problem: c.secretsErr.Error()}}
	case !c.secrets && enabled:
		return []Problem{{Key: "ENABLE_OFFSITE_BACKUP", Source: c.Source("ENABLE_OFFSITE_BACKUP"),
			Problem: fmt.Sprintf("off-site copies are enabled but %s does not exist", path)}}
	case !c.secrets:
		return nil
	}
	if f, err := os.Open(path); err == nil {
		var le *keyfile.LooseError
		if errors.As(c.checkSecretsMode(f), &le) {
			ps = append(ps, Problem{Source: path, Problem: fmt.Sprintf("mode %04o: others may read the S3 credentials (%s)", le.Mode, strings.TrimPrefix(le.Hint(), "run: "))})
		}
		f.Close()
	}
	if enabled {
		for _, k := range Keys {
			if k.Offsite && !c.IsSet(k.Name) {
				ps = append(ps, Problem{Key: k.Name, Source: path, Problem: "not set, and off-site copies are enabled"})
			}
		}
	}
	return append(ps, found...)
}

// familyOf returns the family name belongs to; "" when none.
func familyOf(name string) string {
	for _, k := range Keys {
		if k.Family() && k.member(name) {
			return k.Name
		}
	}
	return ""
}

// rowOf reports whether name has a row of its own in [Keys].
func rowOf(name string) bool {
	for _, k := range Keys {
		if k.Name == name {
			return true
		}
	}
	return false
}
