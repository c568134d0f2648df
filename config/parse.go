package config

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Entry is one KEY=VALUE line of an env file, its value unquoted and
// expanded.
type Entry struct {
	Key   string
	Value string
	Line  int
}

// LineError is a line of an env file that could not be read. It names the
// file, the line and the key, never the value.
type LineError struct {
	File string
	Line int
	Key  string // "" when the line is not KEY=VALUE at all
	Msg  string
}

func (e *LineError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
}

// Resolver resolves the references of an env file that are not earlier
// keys of the file: to an environment variable, else to pocketsnap's
// default for the key. Each returns ok false when it has no value.
type Resolver struct {
	Env func(name string) (value string, ok bool)
	// Default is given the earlier keys of the file, from which a default
	// may be computed (BACKUP_DIR's from DATA_DIR's).
	Default func(name string, earlier map[string]string) (value string, ok bool)
}

// Parse reads the env file r, named file in errors. With a nil resolver
// every value is literal (the secrets file); otherwise a reference
// resolves to an earlier key of the file, else the environment, else (for
// ${VAR:-word}) word, else the key's default. It returns the good lines,
// the bad ones, and an error only when r cannot be read.
func Parse(r io.Reader, file string, res *Resolver) ([]Entry, []*LineError, error) {
	var (
		entries []Entry
		bad     []*LineError
		earlier = map[string]string{}
	)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !isName(k) {
			bad = append(bad, &LineError{File: file, Line: n, Msg: "expected KEY=VALUE"})
			continue
		}
		x := &expander{literal: res == nil, file: earlier, res: res}
		val, err := x.value(strings.TrimSpace(v))
		if err != nil {
			bad = append(bad, &LineError{File: file, Line: n, Key: k, Msg: err.Error()})
			continue
		}
		earlier[k] = val
		entries = append(entries, Entry{Key: k, Value: val, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("failed to read %s: %w", file, err)
	}
	return entries, bad, nil
}

// isName reports whether s is a shell variable name.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// nameLen returns the length of the variable name at the start of s.
func nameLen(s string) int {
	i := 0
	for i < len(s) && isName(s[:i+1]) {
		i++
	}
	return i
}

// expander unquotes and expands one value. Its errors never quote the
// value.
type expander struct {
	literal bool
	file    map[string]string // the earlier keys of the file
	res     *Resolver
}

// value reads a whole value: 'single-quoted', "double-quoted" or bare,
// then optional blanks and a '#' comment.
func (x *expander) value(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, "'"):
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", fmt.Errorf("unterminated quote")
		}
		return v[1 : 1+end], trailing(v[2+end:])
	case strings.HasPrefix(v, `"`):
		out, rest, err := x.scan(v[1:], `"`)
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(rest, `"`) {
			return "", fmt.Errorf("unterminated quote")
		}
		return out, trailing(rest[1:])
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = v[:i]
	} else if i := strings.Index(v, "\t#"); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSpace(v)
	if x.literal {
		return v, nil
	}
	out, _, err := x.scan(v, "")
	return out, err
}

// trailing checks what follows a quoted value: nothing, or a comment.
func trailing(s string) error {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "#") {
		return nil
	}
	return fmt.Errorf("text after the closing quote (quote the whole value)")
}

// scan expands s up to the first unescaped byte of stop (or its end), and
// returns the expansion and the rest of s from that byte on.
func (x *expander) scan(s, stop string) (string, string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case strings.IndexByte(stop, c) >= 0:
			return b.String(), s[i:], nil
		case x.literal:
			b.WriteByte(c)
			i++
		case c == '\\' && i+1 < len(s) && strings.IndexByte("$\\\"`", s[i+1]) >= 0:
			b.WriteByte(s[i+1])
			i += 2
		case c == '`':
			return "", "", fmt.Errorf("command substitution (`) is not supported (write \\` for a literal one)")
		case c == '$':
			v, n, err := x.reference(s[i:])
			if err != nil {
				return "", "", err
			}
			b.WriteString(v)
			i += n
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), "", nil
}

// reference expands the $VAR, ${VAR} or ${VAR:-word} at the start of s,
// and returns its value and length.
func (x *expander) reference(s string) (string, int, error) {
	if n := nameLen(s[1:]); n > 0 {
		v, err := x.resolve(s[1:1+n], nil)
		return v, 1 + n, err
	}
	if !strings.HasPrefix(s, "${") {
		return "", 0, fmt.Errorf("a $ that starts no $VAR or ${VAR} reference (write \\$ for a literal $)")
	}
	n := nameLen(s[2:])
	if n == 0 {
		return "", 0, fmt.Errorf("a ${ without a variable name (write \\$ for a literal $)")
	}
	name, rest := s[2:2+n], s[2+n:]
	switch {
	case strings.HasPrefix(rest, "}"):
		v, err := x.resolve(name, nil)
		return v, 3 + n, err
	case strings.HasPrefix(rest, ":-"):
		word, after, err := x.scan(rest[2:], "}")
		if err != nil {
			return "", 0, err
		}
		if after == "" {
			return "", 0, fmt.Errorf("${%s:- has no closing }", name)
		}
		v, err := x.resolve(name, &word)
		return v, len(s) - len(after) + 1, err
	}
	return "", 0, fmt.Errorf("${%s… is not ${%s} or ${%s:-word}", name, name, name)
}

// resolve returns a variable's value: an earlier key of the file, else
// the environment's; when that is unset or empty, word when given, else
// the key's default; else an error naming the variable.
func (x *expander) resolve(name string, word *string) (string, error) {
	v, ok := x.file[name]
	if !ok {
		v, ok = x.res.Env(name)
	}
	if ok && v != "" || ok && word == nil {
		return v, nil
	}
	if word != nil {
		return *word, nil
	}
	if v, ok := x.res.Default(name, x.file); ok {
		return v, nil
	}
	return "", fmt.Errorf("$%s is not an earlier key of the file, an environment variable or a pocketsnap key with a default", name)
}
