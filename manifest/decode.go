package manifest

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// Decode authenticates and parses a stored manifest's public part. The
// private part stays sealed until [Manifest.Open].
func Decode(b []byte, keys *chunkstore.Keys) (*Manifest, error) {
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes is too large", ErrInvalid, len(b))
	}
	return DecodeFrom(bytes.NewReader(b), keys)
}

// DecodeFrom is [Decode] reading the stored manifest from r. It streams:
// the public line is parsed as it is hashed, its base64 values decoded
// in place, so that no copy of the stored bytes, nor of their base64, is
// held. Nothing parsed leaves it before the MAC has authenticated the
// whole line.
func DecodeFrom(r io.Reader, keys *chunkstore.Keys) (*Manifest, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	ln := &lineReader{br: br, mac: keys.NewMAC()}
	pub, perr := parsePublic(ln)
	// Read, and hash, the rest of the line whatever the parser made of
	// it, so that a forged line fails as forged, not as malformed.
	if rest := ln.skip(); perr == nil {
		perr = rest
	}
	if ln.err != nil && !errors.Is(ln.err, io.EOF) {
		return nil, fmt.Errorf("failed to read manifest: %w", ln.err)
	}
	if !ln.eol {
		if ln.n > maxManifestSize {
			return nil, fmt.Errorf("%w: more than %d bytes is too large", ErrInvalid, maxManifestSize)
		}
		return nil, fmt.Errorf("%w: truncated (no MAC line)", ErrInvalid)
	}
	// Exactly two lines, the second in the form Write writes: a manifest
	// cut short or with anything appended is not the one that was written.
	ml, err := readMACLine(br)
	if err != nil {
		return nil, err
	}
	var mj macJSON
	if err := json.Unmarshal(ml, &mj); err != nil {
		return nil, fmt.Errorf("%w: bad MAC line: %v", ErrInvalid, err)
	}
	mac, err := hex.DecodeString(mj.MAC)
	if err != nil || !hmac.Equal(ln.mac.Sum(nil), mac) {
		return nil, fmt.Errorf("%w: authentication failed (forged, altered or from another repository)", ErrInvalid)
	}
	if !bytes.Equal(ml, macLine(mac)) {
		return nil, fmt.Errorf("%w: bad MAC line: not as written (%d bytes)", ErrInvalid, len(ml))
	}
	if perr != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, perr)
	}
	f := &pub.fields
	m := &Manifest{
		Version: f.Version, Name: f.Name, Kind: f.Kind, Time: f.Time, Incomplete: f.Incomplete,
		StreamSize: f.StreamSize, AddedBytes: f.AddedBytes, DowntimeMS: f.DowntimeMS,
		sealed: pub.details,
	}
	if err := m.checkPublic(pub); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return m, nil
}

// readMACLine reads the second line, which must end the manifest.
func readMACLine(br *bufio.Reader) ([]byte, error) {
	const maxLine = 256
	ml, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: truncated (the MAC line is cut short)", ErrInvalid)
	case errors.Is(err, bufio.ErrBufferFull) || len(ml) > maxLine:
		return nil, fmt.Errorf("%w: bad MAC line: more than %d bytes", ErrInvalid, maxLine)
	case err != nil:
		return nil, fmt.Errorf("failed to read manifest: %w", err)
	}
	ml = bytes.Clone(ml[:len(ml)-1])
	if _, err := br.ReadByte(); err == nil {
		return nil, fmt.Errorf("%w: bad MAC line: not as written (more follows it)", ErrInvalid)
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("failed to read manifest: %w", err)
	}
	return ml, nil
}

// lineReader reads the first line of a manifest, without its newline,
// one byte at a time, hashing it as it goes.
type lineReader struct {
	br    *bufio.Reader
	mac   hash.Hash
	chunk []byte // read from br, hashed, not consumed yet
	n     int64  // bytes read
	eol   bool   // the newline was read
	err   error  // of br
}

// fill reads the next part of the line. It returns false at its end.
func (l *lineReader) fill() bool {
	for len(l.chunk) == 0 {
		if l.eol || l.err != nil {
			return false
		}
		if l.n > maxManifestSize {
			l.err = io.EOF
			return false
		}
		b, err := l.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			err = nil
		}
		if n := len(b); n > 0 && b[n-1] == '\n' {
			b, l.eol = b[:n-1], true
		}
		l.n += int64(len(b))
		l.mac.Write(b)
		l.chunk, l.err = b, err
	}
	return true
}

// readByte returns the next byte of the line; io.ErrUnexpectedEOF at its end.
func (l *lineReader) readByte() (byte, error) {
	if !l.fill() {
		return 0, io.ErrUnexpectedEOF
	}
	c := l.chunk[0]
	l.chunk = l.chunk[1:]
	return c, nil
}

// peek returns the next byte without consuming it.
func (l *lineReader) peek() (byte, error) {
	if !l.fill() {
		return 0, io.ErrUnexpectedEOF
	}
	return l.chunk[0], nil
}

// skip reads, and hashes, the rest of the line.
func (l *lineReader) skip() error {
	var rest int64
	for l.fill() {
		rest += int64(len(l.chunk))
		l.chunk = nil
	}
	if rest > 0 {
		return fmt.Errorf("%d bytes after the public part", rest)
	}
	return nil
}

// public is the public part of either version, as read.
type public struct {
	fields publicFields
	// blobs, added, removed and details are as stored, decoded from
	// base64.
	blobs, added, removed, details []byte
}

// publicFields are the public part's values that are not base64.
type publicFields struct {
	publicHead
	DowntimeMS int64 `json:"downtime_ms"`
	// Base is nil when "base" is absent.
	Base *string `json:"base"`
}

// Values other than the base64 ones are short: no field's JSON is longer.
const maxValue = 4 << 10

// parsePublic parses the public line: a JSON object with each key once.
// It takes only what Write writes: no white space, no escapes in the
// base64 values.
func parsePublic(l *lineReader) (*public, error) {
	p := &public{}
	if c, err := l.readByte(); err != nil || c != '{' {
		return nil, errors.New("the public part is not a JSON object")
	}
	seen := map[string]bool{}
	for first := true; ; first = false {
		c, err := l.readByte()
		if err != nil {
			return nil, err
		}
		if c == '}' && first {
			break
		}
		if !first {
			if c == '}' {
				break
			}
			if c != ',' {
				return nil, fmt.Errorf("unexpected %q in the public part", c)
			}
			if c, err = l.readByte(); err != nil {
				return nil, err
			}
		}
		if c != '"' {
			return nil, fmt.Errorf("unexpected %q in the public part", c)
		}
		key, err := readString(l, 64)
		if err != nil {
			return nil, err
		}
		if c, err := l.readByte(); err != nil || c != ':' {
			return nil, fmt.Errorf("no value for %q", key)
		}
		if seen[key] {
			return nil, fmt.Errorf("%q given twice", key)
		}
		seen[key] = true
		if err := p.value(l, key); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return p, nil
}

// value reads the value of key into p.
func (p *public) value(l *lineReader, key string) error {
	var to *[]byte
	switch key {
	case "blobs":
		to = &p.blobs
	case "added":
		to = &p.added
	case "removed":
		to = &p.removed
	case "details":
		to = &p.details
	}
	if to != nil {
		var err error
		*to, err = readBase64(l)
		return err
	}
	raw, err := readValue(l)
	if err != nil {
		return err
	}
	return unmarshalField(key, raw, &p.fields)
}

// readString reads a JSON string whose opening quote was read, of up to
// limit bytes as stored, and returns its raw contents.
func readString(l *lineReader, limit int) (string, error) {
	var b []byte
	for {
		c, err := l.readByte()
		if err != nil {
			return "", err
		}
		if c == '"' {
			return string(b), nil
		}
		if c < 0x20 || c == '\\' || len(b) == limit {
			return "", errors.New("malformed key")
		}
		b = append(b, c)
	}
}

// readValue returns the JSON of a value that is not base64: a string,
// number, boolean or null of up to maxValue bytes.
func readValue(l *lineReader) ([]byte, error) {
	var b []byte
	inString, escaped := false, false
	for {
		c, err := l.peek()
		if err != nil {
			return nil, err
		}
		if !inString && len(b) > 0 && (c == ',' || c == '}') {
			return b, nil
		}
		l.chunk = l.chunk[1:]
		if len(b) == maxValue {
			return nil, errors.New("value too long")
		}
		if !inString && (c == ' ' || c == '\t' || c == '\r') {
			return nil, errors.New("white space in the public part")
		}
		b = append(b, c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		}
	}
}

// readBase64 reads a JSON string of standard base64 and returns what it
// encodes, decoding it a few kilobytes at a time.
func readBase64(l *lineReader) ([]byte, error) {
	if c, err := l.readByte(); err != nil || c != '"' {
		return nil, errors.New("not a string")
	}
	var out []byte
	var pending [4 << 10]byte // a multiple of 4
	n, ended := 0, false
	flush := func() error {
		if ended && n > 0 {
			return errors.New("malformed base64: data after its padding")
		}
		var dec [len(pending) / 4 * 3]byte
		k, err := base64.StdEncoding.Decode(dec[:], pending[:n])
		if err != nil {
			return errors.New("malformed base64")
		}
		out = append(out, dec[:k]...)
		// Padding ends the value: nothing may follow it.
		ended = ended || n > 0 && pending[n-1] == '='
		n = 0
		return nil
	}
	for {
		if !l.fill() {
			return nil, io.ErrUnexpectedEOF
		}
		i := 0
		for ; i < len(l.chunk) && l.chunk[i] != '"'; i++ {
			c := l.chunk[i]
			if !isBase64(c) {
				return nil, errors.New("malformed base64")
			}
			pending[n] = c
			if n++; n == len(pending) {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
		done := i < len(l.chunk)
		l.chunk = l.chunk[min(i+1, len(l.chunk)):]
		if done {
			if n%4 != 0 {
				return nil, errors.New("malformed base64")
			}
			return out, flush()
		}
	}
}

// isBase64 reports whether c is of the standard base64 alphabet or its
// padding.
func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '='
}
