package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Issue 19.2: a JSON line is one struct embedding the header and the body,
// encoded once, with no byte surgery: the header's fields come first, a
// pointer body works, an empty body adds nothing, and a body that is not
// an object becomes an error line that says so; embedded structs are
// promoted as encoding/json promotes them; a body that encodes itself is
// refused rather than flattened.
func TestEmitLines(t *testing.T) {
	var out bytes.Buffer
	u := &ui{stdout: &out, stderr: &bytes.Buffer{}, command: "restore"}
	u.setJSON(true)
	type body struct {
		Target string `json:"target"`
		Bytes  int64  `json:"bytes"`
		hidden int
	}
	u.summary(body{Target: "/r", Bytes: 3, hidden: 1})
	u.summary(&body{Target: "/p"})
	u.emit(lineHeader{Type: msgStatus}, struct{}{})
	u.summary(map[string]int{"a": 1})
	u.summary(nil)
	u.summary(withStatus{Name: "n", Status: &Status{Job: "backup"}, Skip: 1})
	u.summary(withStatus{Name: "m", Opt: 2})
	u.summary(struct{ hidden }{hidden{A: 1}})
	u.summary(selfEncoding{})
	u.summary(shadowing{Name: "outer", Status: &Status{Job: "inner"}, Job: "outer job"})
	want := `{"message_type":"summary","command":"restore","target":"/r","bytes":3}
{"message_type":"summary","command":"restore","target":"/p","bytes":0}
{"message_type":"status"}
{"message_type":"error","message":"failed to encode a summary line: a map[string]int is not a JSON object"}
{"message_type":"error","message":"failed to encode a summary line: a \u003cnil\u003e is not a JSON object"}
{"message_type":"summary","command":"restore","Name":"n","job":"backup"}
{"message_type":"summary","command":"restore","Name":"m","Opt":2}
{"message_type":"summary","command":"restore","A":1}
{"message_type":"error","message":"failed to encode a summary line: a main.selfEncoding encodes itself, so its fields cannot join a line"}
{"message_type":"summary","command":"restore","job":"outer job","Other":"","Name":"outer"}
`
	// The body's fields are encoding/json's own.
	enc, err := json.Marshal(shadowing{Name: "outer", Status: &Status{Job: "inner"}, Job: "outer job"})
	if err != nil || string(enc) != `{"job":"outer job","Other":"","Name":"outer"}` {
		t.Errorf("encoding/json writes the shadowing body as %s (%v)", enc, err)
	}
	if out.String() != want {
		t.Errorf("lines:\n%s\nwant:\n%s", out.String(), want)
	}
}

// Status is embedded by withStatus, as daemon.Status is by the status
// summary: a type with methods, through a pointer.
type Status struct {
	Job string `json:"job"`
}

func (s Status) String() string { return s.Job }

type withStatus struct {
	Name string
	*Status
	Skip int `json:"-"`
	Opt  int `json:",omitempty"`
}

type hidden struct{ A int }

// shadowing has fields of the names of some in its embedded structs: the
// outer ones are written, as encoding/json writes them.
type shadowing struct {
	*Status
	Job string `json:"job"`
	withName
	Name string
}

type withName struct{ Name, Other string }

// selfEncoding has its own JSON form, which flattening its fields would
// silently ignore.
type selfEncoding struct{ A int }

func (selfEncoding) MarshalJSON() ([]byte, error) { return []byte(`"self"`), nil }
