package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
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

// lineHeader begins every JSON line.
type lineHeader struct {
	Type string `json:"message_type"`
	// Command names the command, on its summary line.
	Command string `json:"command,omitempty"`
}

// emit writes one JSON line with --json, and nothing without: the fields
// of h, then those of body, a struct or a pointer to one.
func (u *ui) emit(h lineHeader, body any) {
	if u.jsonw == nil {
		return
	}
	v, err := jsonLine(h, body)
	var line []byte
	if err == nil {
		line, err = json.Marshal(v)
	}
	if err != nil {
		// Only a programming error gets here: say so in the stream.
		line, _ = json.Marshal(struct {
			lineHeader
			message
		}{lineHeader{Type: msgError}, message{Message: fmt.Sprintf("failed to encode a %s line: %v", h.Type, err)}})
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.jsonw.Write(append(line, '\n'))
}

// jsonLine returns one struct with h's fields and then body's, so that
// encoding/json writes the line as one object in one pass. Body's fields
// are copied as encoding/json sees them: the fields of an embedded struct
// promoted (a nil embedded pointer adds none), each under its JSON name
// and options. (A generic struct cannot embed its type parameter, and
// reflect cannot embed a type with methods after the first field, hence
// the copy.)
func jsonLine(h lineHeader, body any) (any, error) {
	v := reflect.ValueOf(body)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("a %T is not a JSON object", body)
	}
	if reflect.PointerTo(v.Type()).Implements(reflect.TypeFor[json.Marshaler]()) {
		// Its fields are not what it encodes to.
		return nil, fmt.Errorf("a %T encodes itself, so its fields cannot join a line", body)
	}
	l := &lineFields{}
	l.flatten(v, 1)
	fields := []reflect.StructField{{Name: "Header", Type: reflect.TypeFor[lineHeader](), Anonymous: true}}
	vals := []reflect.Value{reflect.ValueOf(h)}
	for i, f := range l.fields {
		if l.dominant(i) {
			f.Name = fmt.Sprintf("F%d", len(fields))
			fields, vals = append(fields, f), append(vals, l.vals[i])
		}
	}
	out := reflect.New(reflect.StructOf(fields)).Elem()
	for i, fv := range vals {
		out.Field(i).Set(fv)
	}
	return out.Interface(), nil
}

// lineFields are the fields of a JSON line's body, with their values and
// how deep in embedded structs each one lies.
type lineFields struct {
	fields []reflect.StructField
	vals   []reflect.Value
	depth  []int
	tagged []bool
	name   []string
}

// dominant reports whether field i is the one encoding/json writes of
// those with its name: the shallowest, or of several as shallow the only
// one with a name in its tag; if none is, none is written.
func (l *lineFields) dominant(i int) bool {
	for j := range l.fields {
		if j == i || l.name[j] != l.name[i] {
			continue
		}
		if l.depth[j] < l.depth[i] || l.depth[j] == l.depth[i] && (l.tagged[j] || !l.tagged[i]) {
			return false
		}
	}
	return true
}

// flatten adds the fields of the struct v, found depth embeddings deep,
// as encoding/json encodes them (the exported fields of an unexported
// embedded struct too).
func (l *lineFields) flatten(v reflect.Value, depth int) {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		tag, ok := f.Tag.Lookup("json")
		if tag == "-" {
			continue
		}
		if f.Anonymous && !ok {
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				l.flatten(fv, depth+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		tagged := name != ""
		if !tagged {
			name = f.Name
		}
		full := name
		if opts != "" {
			full += "," + opts
		}
		l.fields = append(l.fields, reflect.StructField{Type: f.Type, Tag: reflect.StructTag(`json:"` + full + `"`)})
		l.vals = append(l.vals, fv)
		l.depth, l.tagged, l.name = append(l.depth, depth), append(l.tagged, tagged), append(l.name, name)
	}
}

// summary ends a command's JSON output with its result: the fields of v (a
// struct) after "message_type" and "command". Without --json it does
// nothing: the command prints its result for people on u.stdout.
func (u *ui) summary(v any) {
	u.emit(lineHeader{Type: msgSummary, Command: u.command}, v)
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
	u.emit(lineHeader{Type: msgError}, message{Message: fmt.Sprintf(format, a...)})
}

func (u *ui) warnf(format string, a ...any) {
	u.line("warning", format, a...)
	u.emit(lineHeader{Type: msgWarning}, message{Message: fmt.Sprintf(format, a...)})
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
	u.emit(lineHeader{Type: msgError}, message{Message: err.Error(), Hint: hint, ExitCode: code})
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
