package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// Open decrypts and validates the private part. It needs the identity for
// an encrypted repository. It streams: the details are decompressed and
// parsed as they are decrypted, and the file index is checked entry by
// entry but not kept (see [Manifest.EachFile]), so that what it holds
// does not grow with the number of files: the stream order, as indices,
// and the sealed details as stored.
func (m *Manifest) Open(codec *chunkstore.Codec) (*Details, error) {
	if m.details != nil {
		return m.details, nil
	}
	if m.Version == Version2 && !m.resolved {
		return nil, fmt.Errorf("%w: the blob set was not read (its set object is needed)", ErrInvalid)
	}
	d := &Details{}
	n := 0
	err := m.readDetails(codec, d, func(f *File) error {
		if err := m.checkFile(d, f); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.details, m.codec, m.files = d, codec, n
	return d, nil
}

// EachFile calls fn with each entry of the file index and its position
// in it, in order, decoding them one at a time from the sealed details:
// however many there are, it holds one. The details must be open
// ([Manifest.Open]) or set ([Manifest.SetDetails]). fn must not keep f;
// an error from fn stops the walk and is returned as it is.
func (m *Manifest) EachFile(fn func(i int, f *File) error) error {
	if m.details == nil {
		return fmt.Errorf("manifest %s: the details are not open", m.Name)
	}
	if m.details.dropped {
		return fmt.Errorf("manifest %s: the file index was let go of", m.Name)
	}
	i := 0
	return m.details.eachFile(func(f *File) error {
		err := fn(i, f)
		i++
		return err
	})
}

// DropFileIndex lets go of the sealed details, which [Manifest.EachFile]
// reads the file index from, once it will not be walked again: a full
// restore needs the stream only. EachFile and Write then fail.
func (m *Manifest) DropFileIndex() {
	if m.details != nil && m.details.sealedIn == m {
		m.details.sealedIn = nil
		m.details.dropped = true
	}
	m.sealed = nil
}

// FileCount returns the number of entries of the file index, once the
// details are open.
func (m *Manifest) FileCount() int {
	switch d := m.details; {
	case d == nil:
		return 0
	case d.index != nil:
		return d.index.Len()
	case d.Files != nil:
		return len(d.Files)
	}
	return m.files // as Open counted them
}

// Files returns the whole file index, as [Manifest.EachFile] visits it.
// It holds every entry: a caller that needs the entries at random (a
// comparison of two snapshots) uses it, others walk EachFile.
func (m *Manifest) Files() ([]File, error) {
	out := make([]File, 0, m.FileCount())
	err := m.EachFile(func(_ int, f *File) error {
		out = append(out, *f)
		return nil
	})
	return out, err
}

// eachSealed is EachFile over the sealed details, which Open checked.
func (m *Manifest) eachSealed(fn func(*File) error) error {
	err := m.readDetails(m.codec, nil, func(f *File) error {
		if err := m.checkFile(m.details, f); err != nil {
			return err
		}
		return fn(f)
	})
	var ce *callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	return err
}

// callerError carries an error of the function given to readDetails out
// of it unchanged.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }

// readDetails decrypts, decompresses and parses the sealed details,
// calling each with every entry of the file index in turn. With d set, it
// fills d's other fields, checks them against m and makes m the source
// of d's file index; with d nil, it skips them. Damage fails with
// ErrInvalid; an error of each is returned as a *callerError.
func (m *Manifest) readDetails(codec *chunkstore.Codec, d *Details, each func(*File) error) error {
	r, err := codec.Open(bytes.NewReader(m.sealed))
	if err != nil {
		if errors.Is(err, chunkstore.ErrNoIdentity) || errors.Is(err, chunkstore.ErrWrongIdentity) {
			return err
		}
		return fmt.Errorf("%w: details: %v", ErrInvalid, err)
	}
	zr, err := zstd.NewReader(r, zstd.WithDecoderMaxMemory(maxDetailsSize), zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		return fmt.Errorf("%w: details: %v", ErrInvalid, err)
	}
	defer zr.Close()
	err = m.parseDetails(json.NewDecoder(io.LimitReader(zr, maxDetailsSize+1)), d, each)
	if err == nil && d != nil {
		if err := m.checkDetails(d); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	var ce *callerError
	if err != nil && !errors.As(err, &ce) && !errors.Is(err, ErrInvalid) {
		err = fmt.Errorf("%w: details: %v", ErrInvalid, err)
	}
	return err
}

// parseDetails is readDetails on the details' JSON, without checking
// them against m. The keys are those
// that Write writes, each once, "stream" before "files"; it reads to the
// end, so that the decompressor and the codec check all of it.
func (m *Manifest) parseDetails(dec *json.Decoder, d *Details, each func(*File) error) error {
	dec.UseNumber() // for parseStream
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		if seen[key] {
			return fmt.Errorf("%q given twice", key)
		}
		seen[key] = true
		switch {
		case key == "files":
			if !seen["stream"] {
				return errors.New(`"files" before "stream"`)
			}
			if err := m.parseFiles(dec, d, each); err != nil {
				return err
			}
		case strings.EqualFold(key, "files"):
			return fmt.Errorf("unexpected key %q", key)
		case key == "stream":
			// Token by token: the decoder does not buffer the array whole.
			var stream *[]uint32
			if d != nil {
				stream = &d.Stream
			}
			if err := parseStream(dec, stream); err != nil {
				return fmt.Errorf("stream: %w", err)
			}
		case d == nil:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		default:
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			if err := unmarshalField(key, raw, d); err != nil {
				return err
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("unexpected data after the details (%v)", err)
	}
	return nil
}

// parseFiles reads the value of "files": null, or an array of entries in
// the form of m's version, handing each to each.
func (m *Manifest) parseFiles(dec *json.Decoder, d *Details, each func(*File) error) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t == nil {
		return nil
	}
	if t != json.Delim('[') {
		return fmt.Errorf("files: unexpected %v", t)
	}
	if d != nil {
		d.sealedIn = m
	}
	var dl deltas
	for dec.More() {
		var f File
		if m.Version == Version2 {
			var v fileV2
			if err := dec.Decode(&v); err != nil {
				return err
			}
			f = dl.decode(&v)
		} else if err := dec.Decode(&f); err != nil {
			return err
		}
		if err := each(&f); err != nil {
			var ce *callerError
			if errors.As(err, &ce) || errors.Is(err, ErrInvalid) {
				return err
			}
			return &callerError{err}
		}
	}
	return expectDelim(dec, ']')
}

// unmarshalField sets the field of the struct v that encoding/json
// would set to raw for key, one field at a time.
func unmarshalField(key string, raw []byte, v any) error {
	k, _ := json.Marshal(key)
	obj := make([]byte, 0, len(k)+len(raw)+3)
	obj = append(append(append(append(append(obj, '{'), k...), ':'), raw...), '}')
	return json.Unmarshal(obj, v)
}

// parseStream reads the value of "stream", null or an array of indices,
// into to, or skips it with to nil.
func parseStream(dec *json.Decoder, to *[]uint32) error {
	t, err := dec.Token()
	if err != nil || t == nil {
		return err
	}
	if t != json.Delim('[') {
		return fmt.Errorf("unexpected %v", t)
	}
	var stream []uint32
	if to != nil {
		stream = []uint32{}
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		num, ok := t.(json.Number)
		if !ok {
			return fmt.Errorf("unexpected %v", t)
		}
		n, err := strconv.ParseUint(string(num), 10, 32)
		if err != nil {
			return err
		}
		if to != nil {
			stream = append(stream, uint32(n))
		}
	}
	if to != nil {
		*to = stream
	}
	return expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != want {
		return fmt.Errorf("expected %v, found %v", want, t)
	}
	return nil
}

// checkDetails checks the details' stream order against m's blob set.
func (m *Manifest) checkDetails(d *Details) error {
	seen := make([]bool, len(m.Blobs))
	for i, n := range d.Stream {
		if int(n) >= len(m.Blobs) {
			return fmt.Errorf("stream position %d names blob %d of %d", i, n, len(m.Blobs))
		}
		seen[n] = true
	}
	for i, ok := range seen {
		if !ok {
			return fmt.Errorf("blob %s is listed but not in the stream", m.Blobs[i].Short())
		}
	}
	if d.StreamSHA256 != "" && len(d.StreamSHA256) != 64 {
		return fmt.Errorf("malformed stream digest %q", d.StreamSHA256)
	}
	return nil
}

// checkFile checks one entry of the file index against the stream.
func (m *Manifest) checkFile(d *Details, f *File) error {
	if f.Piece < 0 || f.Pieces < 1 || f.Piece > len(d.Stream)-f.Pieces || f.Offset < 0 || f.Offset > m.StreamSize {
		return fmt.Errorf("%w: file index entry %q is out of range", ErrInvalid, f.Path)
	}
	return nil
}
