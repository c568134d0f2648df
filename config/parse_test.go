package config

import (
	"strings"
	"testing"
)

// parseOne parses a one-file configuration with the environment env and
// pocketsnap's defaults; it returns the value of the last key and the
// first bad line.
func parseOne(t *testing.T, file string, env map[string]string) (map[string]string, []*LineError) {
	t.Helper()
	c := &Config{environ: env}
	entries, bad, err := Parse(strings.NewReader(file), "test.env", &Resolver{Env: c.env, Default: c.fileDefault})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Key] = e.Value
	}
	return got, bad
}

// Issue 18.16: references resolve to an earlier key of the file, then the
// environment, then pocketsnap's default; ${VAR:-word}; single quotes and
// \$ stay literal.
func TestExpansion(t *testing.T) {
	env := map[string]string{"HOME": "/home/u", "DATA_DIR": "/env/data", "EMPTY": "", "PREFIX": "/termux/usr"}
	for _, tc := range []struct {
		name, file, key, want string
	}{
		{"earlier key wins over environment", "DATA_DIR=/file/data\nBACKUP_DIR=${DATA_DIR}/backups", "BACKUP_DIR", "/file/data/backups"},
		{"bare $VAR", "DATA_DIR=/file/data\nBACKUP_DIR=$DATA_DIR/backups", "BACKUP_DIR", "/file/data/backups"},
		{"environment when not in file", "BACKUP_DIR=${DATA_DIR}/backups", "BACKUP_DIR", "/env/data/backups"},
		{"any environment variable", "BACKUP_DIR=$HOME/b", "BACKUP_DIR", "/home/u/b"},
		{"pocketsnap default when neither", "X=${BACKUP_KEEP_ROOTFS}", "X", "4"},
		{"default computed from earlier keys", "DATA_DIR=/d\nX=${BACKUP_REPO}", "X", "/d/backups/repo"},
		{"default computed from the environment", "X=${ROOTFS_DIR}", "X", "/termux/usr/var/lib/proot-distro/containers/debian/rootfs"},
		{":- word when unset", "X=${NOPE:-/fallback}", "X", "/fallback"},
		{":- word when empty", "X=${EMPTY:-w}", "X", "w"},
		{":- word beats the default", "X=${BACKUP_KEEP_DB:-9}", "X", "9"},
		{":- value when set", "X=${HOME:-/fallback}", "X", "/home/u"},
		{":- word with a reference", "X=${NOPE:-$HOME/x}", "X", "/home/u/x"},
		{"empty reference without word", "X=a${EMPTY}b", "X", "ab"},
		{"single quotes literal", "X='${NOPE} $(rm -rf /) `x`'", "X", "${NOPE} $(rm -rf /) `x`"},
		{"escaped dollar bare", `X=\$HOME`, "X", "$HOME"},
		{"escaped dollar double-quoted", `X="a \$NOPE b"`, "X", "a $NOPE b"},
		{"double quotes expand", `X="$HOME/with space"`, "X", "/home/u/with space"},
		{"escaped quote", `X="say \"hi\""`, "X", `say "hi"`},
		{"other backslashes stay", `X=a\nb`, "X", `a\nb`},
		{"comment after bare value", "X=abc # note", "X", "abc"},
		{"comment after quoted value", `X="a b" # note`, "X", "a b"},
		{"export prefix", "export X=1", "X", "1"},
		{"hash inside a word", "X=a#b", "X", "a#b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, bad := parseOne(t, tc.file, env)
			if len(bad) > 0 {
				t.Fatalf("unexpected error: %v", bad[0])
			}
			if got[tc.key] != tc.want {
				t.Errorf("%s = %q, want %q", tc.key, got[tc.key], tc.want)
			}
		})
	}
}

// Issue 18.16: anything else is an error naming the key and the line,
// never the value.
func TestExpansionErrors(t *testing.T) {
	const secret = "hunter2"
	for _, tc := range []struct {
		name, file, want string
	}{
		{"unknown reference", "A=1\nB=" + secret + "${NOPE}", "test.env:2: B: $NOPE is not an earlier key"},
		{"key without a default", "X=" + secret + "$BACKUP_AGE_RECIPIENT", "test.env:1: X: $BACKUP_AGE_RECIPIENT is not"},
		{"command substitution", "X=" + secret + "$(id)", "test.env:1: X: a $ that starts no"},
		{"backtick", "X=" + secret + "`id`", "test.env:1: X: command substitution"},
		{"unsupported operator", "X=${HOME:?" + secret + "}", "test.env:1: X: ${HOME… is not"},
		{"unclosed brace", "X=${HOME", "test.env:1: X: ${HOME… is not"},
		{"unclosed default", "X=${HOME:-" + secret, "test.env:1: X: ${HOME:- has no closing }"},
		{"dollar at the end", "X=" + secret + "$", "test.env:1: X: a $ that starts no"},
		{"brace without a name", "X=${}" + secret, "test.env:1: X: a ${ without"},
		{"unterminated single", "X='" + secret, "test.env:1: X: unterminated quote"},
		{"unterminated double", `X="` + secret, "test.env:1: X: unterminated quote"},
		{"text after quote", `X="a"` + secret, "test.env:1: X: text after the closing quote"},
		{"not a setting", secret, "test.env:1: expected KEY=VALUE"},
		{"bad name", "1X=" + secret, "test.env:1: expected KEY=VALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, bad := parseOne(t, tc.file, map[string]string{"HOME": "/h"})
			if len(bad) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(bad), bad)
			}
			msg := bad[0].Error()
			if !strings.HasPrefix(msg, tc.want) {
				t.Errorf("error %q, want prefix %q", msg, tc.want)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error %q quotes the value", msg)
			}
		})
	}
}

// Issue 18.16: the secrets file's values are literal.
func TestSecretsLiteral(t *testing.T) {
	const file = "S3_SECRET_ACCESS_KEY=a$b${c}\\$`d`'e\"\nS3_BUCKET='quoted'\nS3_PREFIX=p # comment"
	entries, bad, err := Parse(strings.NewReader(file), "offsite.env", nil)
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	want := []string{"a$b${c}\\$`d`'e\"", "quoted", "p"}
	for i, e := range entries {
		if e.Value != want[i] {
			t.Errorf("%s = %q, want %q", e.Key, e.Value, want[i])
		}
	}
}

// Issue 18.15: one boolean grammar, every spelling in any case.
func TestParseBool(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want bool
	}{
		{[]string{"true", "TRUE", "True", "1", "yes", "YES", "Yes", "on", "ON", "On"}, true},
		{[]string{"false", "FALSE", "False", "0", "no", "NO", "No", "off", "OFF", "Off"}, false},
	} {
		for _, s := range tc.in {
			if got, err := ParseBool(s); err != nil || got != tc.want {
				t.Errorf("ParseBool(%q) = %v, %v; want %v", s, got, err, tc.want)
			}
		}
	}
	for _, s := range []string{"", "maybe", "2", "y", "t", "enabled", " true"} {
		if _, err := ParseBool(s); err == nil {
			t.Errorf("ParseBool(%q) accepted", s)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]string{"90s": "1m30s", "15m": "15m0s", "6h": "6h0m0s", "7d": "168h0m0s", "1d12h": "36h0m0s", "0s": "0s"} {
		d, err := ParseDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "7", "d", "-1h", "1d-1h", "xd", "1w"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

// FuzzParse checks that the env file parser never panics, that its errors
// never quote a value, and that what it accepts round-trips through single
// quotes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"A=1\nB=${A}/x\nC=$A",
		"export X='lit $A'\n# c\nY=\"q \\$ $HOME\" # c",
		"X=${NOPE:-${HOME:-w}}",
		"X=${A:?e}\nY=$(id)\nZ=`id`",
		"X='unterminated\nY=\"also",
		"not a line\n=\n1=2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		c := &Config{environ: map[string]string{"HOME": "/h", "A": "env"}}
		entries, bad, err := Parse(strings.NewReader(file), "f.env", &Resolver{Env: c.env, Default: c.fileDefault})
		if err != nil {
			return // a line longer than the scanner's buffer
		}
		for _, b := range bad {
			if b.Line < 1 || b.Key != "" && !isName(b.Key) {
				t.Fatalf("bad line error %#v", b)
			}
		}
		for _, e := range entries {
			if strings.ContainsRune(e.Value, '\'') || strings.ContainsAny(e.Value, "\n\r") || e.Value != strings.TrimSpace(e.Value) {
				continue
			}
			back, bad, _ := Parse(strings.NewReader(e.Key+"='"+e.Value+"'"), "g.env", nil)
			if len(bad) > 0 || len(back) != 1 || back[0].Value != e.Value {
				t.Fatalf("%s=%q does not round-trip through single quotes: %v %v", e.Key, e.Value, back, bad)
			}
		}
	})
}
