package manifest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// Limits against hostile manifests.
const (
	maxManifestSize = 512 << 20
	maxDetailsSize  = 1 << 30
)

// ErrInvalid is wrapped by every decoding failure: the manifest is
// corrupt, forged or truncated.
var ErrInvalid = errors.New("invalid manifest")

// publicHead is the start of the public part, the same in both versions.
type publicHead struct {
	Version    int       `json:"version"`
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Time       time.Time `json:"time"`
	Incomplete bool      `json:"incomplete"`
	StreamSize int64     `json:"stream_size"`
	AddedBytes int64     `json:"added_bytes"`
}

type publicJSON struct {
	publicHead
	Blobs      string `json:"blobs"`
	Details    string `json:"details"`
	DowntimeMS int64  `json:"downtime_ms,omitempty"`
}

// publicV2JSON is the public part of a version 2 manifest.
type publicV2JSON struct {
	publicHead
	Base       string `json:"base"`
	Added      string `json:"added"`
	Removed    string `json:"removed"`
	Details    string `json:"details"`
	DowntimeMS int64  `json:"downtime_ms,omitempty"`
}

type macJSON struct {
	MAC string `json:"mac"`
}

// Index turns a stream of blob IDs into the sorted set of distinct IDs and
// the stream as indices into that set. It sorts the stream's positions,
// not a copy of its IDs (Issue 20: peak RSS at the end of a backup).
func Index(stream []chunkstore.ID) ([]chunkstore.ID, []uint32) {
	order := make([]uint32, len(stream))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return bytes.Compare(stream[a][:], stream[b][:]) })
	distinct := 0
	for i, p := range order {
		if i == 0 || stream[p] != stream[order[i-1]] {
			distinct++
		}
	}
	set := make([]chunkstore.ID, 0, distinct)
	idx := make([]uint32, len(stream))
	for i, p := range order {
		if i == 0 || stream[p] != stream[order[i-1]] {
			set = append(set, stream[p])
		}
		idx[p] = uint32(len(set) - 1)
	}
	return set, idx
}

// Encode returns the stored form of m, as [Write] writes it.
func Encode(m *Manifest, keys *chunkstore.Keys, codec *chunkstore.Codec) ([]byte, error) {
	var buf bytes.Buffer
	if err := Write(&buf, m, keys, codec); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes the stored form of m to w: the public part as one line of
// JSON, with the private part sealed by codec inside it, and a second line
// holding the HMAC of the first under the repository's MAC key. It streams:
// however many files the details list and blobs the snapshot holds, no
// whole copy of them, compressed, sealed or in base64, is held in memory.
func Write(w io.Writer, m *Manifest, keys *chunkstore.Keys, codec *chunkstore.Codec) error {
	if m.details == nil {
		return errors.New("manifest has no details")
	}
	if m.details.dropped {
		return fmt.Errorf("manifest %s: its file index was let go of", m.Name)
	}
	v2 := m.Version == Version2
	line, values, err := publicLine(m)
	if err != nil {
		return err
	}
	values = append(values, base64Value{"details", func(w io.Writer) error { return sealDetails(w, m.details, v2, codec) }})
	// The large values are written in place of the empty ones json.Marshal
	// gave them. Inside a JSON string every quote is escaped, so the
	// unescaped separator occurs only as the empty values themselves.
	var empty []string
	for _, v := range values {
		empty = append(empty, `"`+v.key+`":""`)
	}
	head, tail, ok := bytes.Cut(line, []byte(strings.Join(empty, ",")))
	if !ok {
		return fmt.Errorf("manifest %s: unexpected public JSON %.200s", m.Name, line)
	}
	mac := keys.NewMAC()
	lw := io.MultiWriter(w, mac)
	if _, err := lw.Write(head); err != nil {
		return err
	}
	for i, v := range values {
		sep := `"` + v.key + `":"`
		if i > 0 {
			sep = `","` + v.key + `":"`
		}
		if _, err := io.WriteString(lw, sep); err != nil {
			return err
		}
		if err := writeBase64(lw, v.fill); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(lw, `"`); err != nil {
		return err
	}
	if _, err := lw.Write(tail); err != nil {
		return err
	}
	out := append([]byte{'\n'}, macLine(mac.Sum(nil))...)
	_, err = w.Write(append(out, '\n'))
	return err
}

// base64Value is a value of the public part that Write streams: fill
// writes the bytes whose base64 it is.
type base64Value struct {
	key  string
	fill func(io.Writer) error
}

// publicLine returns json.Marshal of m's public part with its blob set
// and details empty, and the values that take their place, in order,
// but for the details: version 1's "blobs", or version 2's "added" and
// "removed".
func publicLine(m *Manifest) ([]byte, []base64Value, error) {
	if m.Version != Version2 {
		line, err := json.Marshal(publicJSON{publicHead: m.head(Version), DowntimeMS: m.DowntimeMS})
		return line, []base64Value{{"blobs", func(w io.Writer) error {
			return writeEach(w, len(m.Blobs), func(i int) []byte { return m.Blobs[i][:] })
		}}}, err
	}
	if m.Base == (chunkstore.ID{}) {
		return nil, nil, fmt.Errorf("manifest %s: version 2 without a base set", m.Name)
	}
	line, err := json.Marshal(publicV2JSON{publicHead: m.head(Version2), DowntimeMS: m.DowntimeMS, Base: m.Base.String()})
	return line, []base64Value{
		{"added", func(w io.Writer) error {
			return writeEach(w, len(m.added), func(i int) []byte { return m.added[i][:] })
		}},
		{"removed", func(w io.Writer) error {
			return writeEach(w, len(m.removed), func(i int) []byte { return m.removed[i][:] })
		}},
	}, err
}

// writeEach writes at(0) to at(n-1), concatenated: blob IDs or prefixes.
func writeEach(w io.Writer, n int, at func(int) []byte) error {
	for i := range n {
		if _, err := w.Write(at(i)); err != nil {
			return err
		}
	}
	return nil
}

// head returns the start of m's public part, for the given version.
func (m *Manifest) head(version int) publicHead {
	return publicHead{
		Version: version, Name: m.Name, Kind: m.Kind, Time: m.Time.UTC(), Incomplete: m.Incomplete,
		StreamSize: m.StreamSize, AddedBytes: m.AddedBytes,
	}
}

// writeBase64 writes to w the standard base64 encoding of what fill writes.
func writeBase64(w io.Writer, fill func(io.Writer) error) error {
	enc := base64.NewEncoder(base64.StdEncoding, w)
	if err := fill(enc); err != nil {
		return err
	}
	return enc.Close()
}

// sealDetails writes the stored form of d to w: its JSON, compressed as one
// zstd frame, sealed by codec.
func sealDetails(w io.Writer, d *Details, v2 bool, codec *chunkstore.Codec) error {
	sw, err := codec.Seal(w)
	if err != nil {
		return fmt.Errorf("failed to seal manifest details: %w", err)
	}
	// A 1 MiB window keeps the encoder small; the details' repetitions
	// (sibling paths, field names) are close together.
	zw, err := zstd.NewWriter(sw, zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
	if err != nil {
		return err
	}
	if err := writeDetails(zw, d, v2); err != nil {
		zw.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("failed to compress manifest details: %w", err)
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("failed to seal manifest details: %w", err)
	}
	return nil
}

// macLine is the second line of a manifest, without its newline.
func macLine(mac []byte) []byte {
	b, _ := json.Marshal(macJSON{MAC: hex.EncodeToString(mac)})
	return b
}

// checkPublic checks the public part p of m and fills m's blob set (a
// version 1 manifest's) or its delta (a version 2 one's) from it.
func (m *Manifest) checkPublic(p *public) error {
	if m.Version != Version && m.Version != Version2 {
		return fmt.Errorf("unsupported version %d", m.Version)
	}
	kind, t, err := ParseName(m.Name)
	if err != nil {
		return err
	}
	if kind != m.Kind || !t.Equal(m.Time) {
		return fmt.Errorf("name %q does not match kind %q and time %s", m.Name, m.Kind, m.Time)
	}
	if m.StreamSize < 0 || m.AddedBytes < 0 || m.DowntimeMS < 0 {
		return errors.New("negative size")
	}
	if m.Version == Version2 {
		return m.checkDelta(p)
	}
	if p.fields.Base != nil {
		return errors.New("a version 1 manifest with a base set")
	}
	raw := p.blobs
	if len(raw)%chunkstore.IDSize != 0 {
		return errors.New("malformed blob list")
	}
	m.Blobs = make([]chunkstore.ID, len(raw)/chunkstore.IDSize)
	for i := range m.Blobs {
		copy(m.Blobs[i][:], raw[i*chunkstore.IDSize:])
		if i > 0 && bytes.Compare(m.Blobs[i-1][:], m.Blobs[i][:]) >= 0 {
			return errors.New("blob list is not sorted and distinct")
		}
	}
	return nil
}

// checkDelta parses a version 2 manifest's base and delta.
func (m *Manifest) checkDelta(p *public) error {
	if p.fields.Base == nil || len(p.blobs) != 0 {
		return errors.New("a version 2 manifest without a base set, or with a blob list")
	}
	var err error
	if m.Base, err = chunkstore.ParseID(*p.fields.Base); err != nil {
		return fmt.Errorf("base set: %w", err)
	}
	for _, f := range []struct {
		name string
		raw  []byte
		to   *[]Prefix
	}{{"added", p.added, &m.added}, {"removed", p.removed, &m.removed}} {
		var err error
		if *f.to, err = parsePrefixes(f.raw); err != nil {
			return fmt.Errorf("%s blobs: %w", f.name, err)
		}
	}
	return nil
}

// UseSet completes a version 2 manifest's blob set from the bytes of its
// base set object, and fills Blobs, resolving each prefix with resolve
// (see [Manifest.Blobs] for a prefix it does not resolve). It does
// nothing to a version 1 manifest.
func (m *Manifest) UseSet(b []byte, resolve func(Prefix) (chunkstore.ID, bool)) error {
	if m.Version != Version2 {
		return nil
	}
	base, err := DecodeSet(b, m.Base)
	if err != nil {
		return err
	}
	set, err := applyDelta(base, m.added, m.removed)
	if err != nil {
		return fmt.Errorf("%w: blob set against %s: %v", ErrInvalid, SetName(m.Base), err)
	}
	m.Blobs = make([]chunkstore.ID, len(set))
	for i, p := range set {
		copy(m.Blobs[i][:], p[:])
		m.unresolved = append(m.unresolved, i)
	}
	m.resolved = true
	m.Resolve(resolve)
	return nil
}

// Resolve resolves, with resolve, the blobs of a version 2 manifest that
// are not resolved yet: a reader whose index is not the store's (the
// device's, checking its bucket) calls it with its own.
func (m *Manifest) Resolve(resolve func(Prefix) (chunkstore.ID, bool)) {
	left := m.unresolved[:0]
	for _, i := range m.unresolved {
		if id, ok := resolve(Prefix(m.Blobs[i][:chunkstore.PrefixSize])); ok {
			m.Blobs[i] = id
		} else {
			left = append(left, i)
		}
	}
	// Not left's array, which held every blob's index (Issue 20: peak RSS).
	m.unresolved = append([]int(nil), left...)
}
