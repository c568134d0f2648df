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
// the stream as indices into that set.
func Index(stream []chunkstore.ID) ([]chunkstore.ID, []uint32) {
	set := slices.Clone(stream)
	slices.SortFunc(set, func(a, b chunkstore.ID) int { return bytes.Compare(a[:], b[:]) })
	set = slices.Compact(set)
	idx := make([]uint32, len(stream))
	for i, id := range stream {
		n, _ := slices.BinarySearchFunc(set, id, func(a, b chunkstore.ID) int { return bytes.Compare(a[:], b[:]) })
		idx[i] = uint32(n)
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
// however many files the details list, no whole copy of them, compressed,
// sealed or in base64, is held in memory.
func Write(w io.Writer, m *Manifest, keys *chunkstore.Keys, codec *chunkstore.Codec) error {
	if m.details == nil {
		return errors.New("manifest has no details")
	}
	v1 := m.Version != Version2
	head, tail, err := publicPartsV2(m)
	if v1 {
		head, tail, err = publicParts(m)
	}
	if err != nil {
		return err
	}
	mac := keys.NewMAC()
	lw := io.MultiWriter(w, mac)
	if _, err := lw.Write(head); err != nil {
		return err
	}
	if v1 {
		if err := writeBase64(lw, func(w io.Writer) error {
			for _, id := range m.Blobs {
				if _, err := w.Write(id[:]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		if _, err := io.WriteString(lw, `","details":"`); err != nil {
			return err
		}
	}
	if err := writeBase64(lw, func(w io.Writer) error { return sealDetails(w, m.details, !v1, codec) }); err != nil {
		return err
	}
	if _, err := lw.Write(tail); err != nil {
		return err
	}
	out := append([]byte{'\n'}, macLine(mac.Sum(nil))...)
	_, err = w.Write(append(out, '\n'))
	return err
}

// publicParts returns the public line of m split around the values of
// "blobs" and "details": head ends with `"blobs":"` and tail starts with
// the closing quote of "details". head, the two values and `","details":"`
// between them, and tail are byte for byte json.Marshal of publicJSON.
func publicParts(m *Manifest) (head, tail []byte, err error) {
	line, err := json.Marshal(publicJSON{publicHead: m.head(Version), DowntimeMS: m.DowntimeMS})
	if err != nil {
		return nil, nil, err
	}
	// Inside a JSON string every quote is escaped, so the unescaped
	// separator occurs only as the two empty values themselves.
	before, after, ok := bytes.Cut(line, []byte(`"blobs":"","details":""`))
	if !ok {
		return nil, nil, fmt.Errorf("manifest %s: unexpected public JSON %s", m.Name, line)
	}
	return append(before, `"blobs":"`...), append([]byte{'"'}, after...), nil
}

// publicPartsV2 returns the public line of a version 2 manifest split
// around the value of "details": head ends with `"details":"`, tail starts
// with its closing quote.
func publicPartsV2(m *Manifest) (head, tail []byte, err error) {
	if m.Base == (chunkstore.ID{}) {
		return nil, nil, fmt.Errorf("manifest %s: version 2 without a base set", m.Name)
	}
	line, err := json.Marshal(publicV2JSON{
		publicHead: m.head(Version2), DowntimeMS: m.DowntimeMS,
		Base: m.Base.String(), Added: prefixBase64(m.added), Removed: prefixBase64(m.removed),
	})
	if err != nil {
		return nil, nil, err
	}
	before, after, ok := bytes.Cut(line, []byte(`"details":""`))
	if !ok {
		return nil, nil, fmt.Errorf("manifest %s: unexpected public JSON %.200s", m.Name, line)
	}
	return append(before, `"details":"`...), append([]byte{'"'}, after...), nil
}

// head returns the start of m's public part, for the given version.
func (m *Manifest) head(version int) publicHead {
	return publicHead{
		Version: version, Name: m.Name, Kind: m.Kind, Time: m.Time.UTC(), Incomplete: m.Incomplete,
		StreamSize: m.StreamSize, AddedBytes: m.AddedBytes,
	}
}

// prefixBase64 is the base64 of concatenated prefixes.
func prefixBase64(ps []Prefix) string {
	raw := make([]byte, 0, len(ps)*chunkstore.PrefixSize)
	for _, p := range ps {
		raw = append(raw, p[:]...)
	}
	return base64.StdEncoding.EncodeToString(raw)
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
	if p.hasBase {
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
	if !p.hasBase || len(p.blobs) != 0 {
		return errors.New("a version 2 manifest without a base set, or with a blob list")
	}
	var err error
	if m.Base, err = chunkstore.ParseID(p.base); err != nil {
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
	m.unresolved = left
}
