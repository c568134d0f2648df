package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// exits CODE PROGRAM [ARGS...]: run PROGRAM like exec and check that it
// exits with CODE; stdout and stderr are kept for the commands that follow.
// The exit-code test reads these lines to know which codes the stories
// produce.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// jsonMessageTypes are the values of "message_type".
var jsonMessageTypes = []string{msgStatus, msgWarning, msgError, msgSummary}

// jsonl TYPE [PATH=REGEXP...]: the last command's stdout is JSON lines in
// pocketsnap's schema (see checkJSONLines), and a line of TYPE has every
// PATH matching its REGEXP (whole value). PATH is dotted: snapshots.0.kind;
// len after an array is its length: entries.len. With !, no line of TYPE
// matches them all.
func cmdJSONL(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || !slices.Contains(jsonMessageTypes, args[0]) {
		ts.Fatalf("usage: jsonl %s [PATH=REGEXP...]", strings.Join(jsonMessageTypes, "|"))
	}
	lines, err := checkJSONLines(ts.ReadFile("stdout"))
	ts.Check(err)
	for _, line := range lines {
		if line["message_type"] == args[0] && matchAll(ts, line, args[1:]) {
			if neg {
				ts.Fatalf("a %s line matches: %v", args[0], line)
			}
			return
		}
	}
	if !neg {
		ts.Fatalf("no %s line has %s", args[0], strings.Join(args[1:], " "))
	}
}

// checkJSONLines parses output as pocketsnap's JSON lines: every line an
// object with a known message_type; at most one summary; an exit_code only
// on an error line that is the last; the last line the summary or that
// error.
func checkJSONLines(out string) ([]map[string]any, error) {
	var lines []map[string]any
	summaries := 0
	for i, text := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		d := json.NewDecoder(strings.NewReader(text))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil || d.More() {
			return nil, fmt.Errorf("line %d is not one JSON object: %q", i+1, text)
		}
		t, _ := m["message_type"].(string)
		if !slices.Contains(jsonMessageTypes, t) {
			return nil, fmt.Errorf("line %d has message_type %q", i+1, m["message_type"])
		}
		if t == msgSummary {
			summaries++
			if _, ok := m["command"].(string); !ok {
				return nil, fmt.Errorf("line %d: a summary without its command", i+1)
			}
		}
		if _, ok := m["message"].(string); !ok && (t == msgError || t == msgWarning) {
			return nil, fmt.Errorf("line %d: a %s without a message", i+1, t)
		}
		lines = append(lines, m)
	}
	for i, m := range lines {
		_, final := m["exit_code"]
		if final && (m["message_type"] != msgError || i != len(lines)-1) {
			return nil, fmt.Errorf("line %d: exit_code is only for the error line that ends the output", i+1)
		}
	}
	last := lines[len(lines)-1]
	if _, final := last["exit_code"]; summaries > 1 || !final && last["message_type"] != msgSummary {
		return nil, fmt.Errorf("%d summaries, and the last line is %v: want one summary, last unless an error with exit_code ends the output", summaries, last)
	}
	return lines, nil
}

func matchAll(ts *testscript.TestScript, line map[string]any, asserts []string) bool {
	for _, a := range asserts {
		path, re, ok := strings.Cut(a, "=")
		if !ok {
			ts.Fatalf("jsonl: %q is not PATH=REGEXP", a)
		}
		v, ok := lookupJSON(line, path)
		if !ok || !regexp.MustCompile("^(?:"+re+")$").MatchString(v) {
			return false
		}
	}
	return true
}

// lookupJSON returns the value at a dotted path as text: strings as they
// are, anything else as JSON.
func lookupJSON(v any, path string) (string, bool) {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return "", false
			}
		case []any:
			if k == "len" {
				v = json.Number(strconv.Itoa(len(x)))
				continue
			}
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return "", false
			}
			v = x[i]
		default:
			return "", false
		}
	}
	if s, ok := v.(string); ok {
		return s, true
	}
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(v)
	return strings.TrimSpace(b.String()), true
}

// mksocket PATH: leave a Unix socket at PATH (a backup cannot save one).
func cmdMksocket(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: mksocket PATH")
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	ts.Check(err)
	defer syscall.Close(fd)
	ts.Check(syscall.Bind(fd, &syscall.SockaddrUnix{Name: ts.MkAbs(args[0])}))
}

// holdlock REPO: hold the exclusive lock of the repository REPO until the
// script ends, as a running backup would.
func cmdHoldlock(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: holdlock REPO")
	}
	s, err := chunkstore.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	lock, err := s.Lock(true)
	ts.Check(err)
	ts.Defer(func() {
		lock.Unlock()
		s.Close()
	})
}
