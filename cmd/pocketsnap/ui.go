package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// ui writes what a command says. People get results on stdout and
// everything else on stderr as "pocketsnap: error: …", "pocketsnap:
// warning: …", "pocketsnap: hint: …". With --json, stdout carries JSON
// lines instead (see [ui.emit]); the human results are discarded and the
// messages on stderr stay.
type ui struct {
	// stdout takes the results for people: io.Discard with --json.
	stdout, stderr io.Writer
	quiet          bool
	// jsonw is where JSON lines go with --json (the real stdout); nil
	// without.
	jsonw io.Writer
	// command names the running command in summary lines.
	command string
	mu      sync.Mutex // serialises JSON lines
}

// JSON message types: the value of every line's "message_type".
const (
	msgStatus  = "status"
	msgWarning = "warning"
	msgError   = "error"
	msgSummary = "summary"
)

// setJSON switches stdout to JSON lines, or back to text.
func (u *ui) setJSON(on bool) {
	switch {
	case on && u.jsonw == nil:
		u.jsonw, u.stdout = u.stdout, io.Discard
	case !on && u.jsonw != nil:
		u.stdout, u.jsonw = u.jsonw, nil
	}
}

// json reports whether stdout carries JSON lines.
func (u *ui) json() bool { return u.jsonw != nil }

// emit writes one JSON line {"message_type": typ, …the fields of each
// part} with --json, and nothing without. Each part must encode as a JSON
// object (a struct or a map).
func (u *ui) emit(typ string, parts ...any) {
	if u.jsonw == nil {
		return
	}
	// A struct of one string field always encodes.
	line, _ := json.Marshal(struct {
		Type string `json:"message_type"`
	}{typ})
	for _, p := range parts {
		body, err := json.Marshal(p)
		if err == nil {
			line, err = joinObjects(line, body)
		}
		if err != nil {
			// Only a programming error gets here: say so in the stream.
			line, _ = json.Marshal(map[string]string{"message_type": msgError, "message": fmt.Sprintf("failed to encode a %s line: %v", typ, err)})
			break
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.jsonw.Write(append(line, '\n'))
}

// joinObjects merges two encoded JSON objects into one.
func joinObjects(a, b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != '{' {
		return nil, fmt.Errorf("%.20s is not a JSON object", b)
	}
	if len(b) == 2 {
		return a, nil
	}
	out := append([]byte(nil), a[:len(a)-1]...)
	return append(append(out, ','), b[1:]...), nil
}

// summary ends a command's JSON output with its result: the fields of v (a
// struct) after "message_type" and "command". Without --json it does
// nothing: the command prints its result for people on u.stdout.
func (u *ui) summary(v any) {
	u.emit(msgSummary, struct {
		Command string `json:"command"`
	}{u.command}, v)
}

// message is the body of a warning or error line.
type message struct {
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// ExitCode is set on the error line that ends a failed command.
	ExitCode int `json:"exit_code,omitempty"`
}

func (u *ui) errorf(format string, a ...any) {
	u.line("error", format, a...)
	u.emit(msgError, message{Message: fmt.Sprintf(format, a...)})
}

func (u *ui) warnf(format string, a ...any) {
	u.line("warning", format, a...)
	u.emit(msgWarning, message{Message: fmt.Sprintf(format, a...)})
}

func (u *ui) hintf(format string, a ...any) { u.line("hint", format, a...) }

// fail reports the error that ends a command: on stderr for people
// (unless quiet, i.e. an incomplete snapshot already explained by its
// warnings) and, with --json, as the last line.
func (u *ui) fail(err error, code int, hint string, quiet bool) {
	if !quiet {
		u.line("error", "%v", err)
	}
	if hint != "" {
		u.hintf("%s", hint)
	}
	u.emit(msgError, message{Message: err.Error(), Hint: hint, ExitCode: code})
}

func (u *ui) infof(format string, a ...any) {
	if !u.quiet {
		fmt.Fprintf(u.stderr, format+"\n", a...)
	}
}

func (u *ui) line(level, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	fmt.Fprintf(u.stderr, "pocketsnap: %s: %s\n", level, strings.ReplaceAll(msg, "\n", "\n  "))
}

// terminal reports whether stderr is a terminal, where progress is shown.
func (u *ui) terminal() bool {
	f, ok := u.stderr.(*os.File)
	return ok && !u.quiet && term.IsTerminal(int(f.Fd()))
}
