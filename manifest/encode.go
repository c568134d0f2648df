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

// decodeJSON reads the public part of either version.
type decodeJSON struct {
	publicJSON
	Base    *string `json:"base"`
	Added   string  `json:"added"`
	Removed string  `json:"removed"`
}

type macJSON struct {
	MAC string `json:"mac"`
}

var zdec, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxDetailsSize), zstd.WithDecoderConcurrency(1))

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

// Decode authenticates and parses a stored manifest's public part. The
// private part stays sealed until [Manifest.Open].
func Decode(b []byte, keys *chunkstore.Keys) (*Manifest, error) {
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes is too large", ErrInvalid, len(b))
	}
	line, rest, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return nil, fmt.Errorf("%w: truncated (no MAC line)", ErrInvalid)
	}
	// Exactly two lines, the second in the form Encode writes: a manifest
	// cut short or with anything appended is not the one that was written.
	ml, ok := bytes.CutSuffix(rest, []byte{'\n'})
	if !ok {
		return nil, fmt.Errorf("%w: truncated (the MAC line is cut short)", ErrInvalid)
	}
	var mj macJSON
	if err := json.Unmarshal(ml, &mj); err != nil {
		return nil, fmt.Errorf("%w: bad MAC line: %v", ErrInvalid, err)
	}
	mac, err := hex.DecodeString(mj.MAC)
	if err != nil || !keys.VerifyMAC(line, mac) {
		return nil, fmt.Errorf("%w: authentication failed (forged, altered or from another repository)", ErrInvalid)
	}
	if !bytes.Equal(ml, macLine(mac)) {
		return nil, fmt.Errorf("%w: bad MAC line: not as written (%d bytes)", ErrInvalid, len(ml))
	}
	var pj decodeJSON
	if err := json.Unmarshal(line, &pj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	m := &Manifest{
		Version: pj.Version, Name: pj.Name, Kind: pj.Kind, Time: pj.Time, Incomplete: pj.Incomplete,
		StreamSize: pj.StreamSize, AddedBytes: pj.AddedBytes, DowntimeMS: pj.DowntimeMS,
	}
	if err := m.checkPublic(pj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if m.sealed, err = base64.StdEncoding.DecodeString(pj.Details); err != nil {
		return nil, fmt.Errorf("%w: details: %v", ErrInvalid, err)
	}
	return m, nil
}

func (m *Manifest) checkPublic(pj decodeJSON) error {
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
		return m.checkDelta(pj)
	}
	if pj.Base != nil {
		return errors.New("a version 1 manifest with a base set")
	}
	raw, err := base64.StdEncoding.DecodeString(pj.Blobs)
	if err != nil || len(raw)%chunkstore.IDSize != 0 {
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
func (m *Manifest) checkDelta(pj decodeJSON) error {
	if pj.Base == nil || pj.Blobs != "" {
		return errors.New("a version 2 manifest without a base set, or with a blob list")
	}
	var err error
	if m.Base, err = chunkstore.ParseID(*pj.Base); err != nil {
		return fmt.Errorf("base set: %w", err)
	}
	for _, f := range []struct {
		name string
		b64  string
		to   *[]Prefix
	}{{"added", pj.Added, &m.added}, {"removed", pj.Removed, &m.removed}} {
		raw, err := base64.StdEncoding.DecodeString(f.b64)
		if err != nil {
			return fmt.Errorf("malformed %s blobs", f.name)
		}
		if *f.to, err = parsePrefixes(raw); err != nil {
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

// Open decrypts and validates the private part. It needs the identity for
// an encrypted repository.
func (m *Manifest) Open(codec *chunkstore.Codec) (*Details, error) {
	if m.details != nil {
		return m.details, nil
	}
	z, err := codec.OpenBytes(m.sealed)
	if err != nil {
		if errors.Is(err, chunkstore.ErrNoIdentity) || errors.Is(err, chunkstore.ErrWrongIdentity) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: details: %v", ErrInvalid, err)
	}
	dj, err := zdec.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: details: %v", ErrInvalid, err)
	}
	d, err := unmarshalDetails(dj, m.Version)
	if err != nil {
		return nil, fmt.Errorf("%w: details: %v", ErrInvalid, err)
	}
	if err := m.checkDetails(d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	m.details = d
	return d, nil
}

func (m *Manifest) checkDetails(d *Details) error {
	if m.Version == Version2 && !m.resolved {
		return errors.New("the blob set was not read (its set object is needed)")
	}
	seen := make([]bool, len(m.Blobs))
	for i, n := range d.Stream {
		if int(n) >= len(m.Blobs) {
			return fmt.Errorf("stream position %d names blob %d of %d", i, n, len(m.Blobs))
		}
		seen[n] = true
	}
	if i := slices.Index(seen, false); i >= 0 {
		return fmt.Errorf("blob %s is listed but not in the stream", m.Blobs[i].Short())
	}
	if d.StreamSHA256 != "" && len(d.StreamSHA256) != 64 {
		return fmt.Errorf("malformed stream digest %q", d.StreamSHA256)
	}
	for _, f := range d.Files {
		if f.Piece < 0 || f.Pieces < 1 || f.Piece > len(d.Stream)-f.Pieces || f.Offset < 0 || f.Offset > m.StreamSize {
			return fmt.Errorf("file index entry %q is out of range", f.Path)
		}
	}
	return nil
}
