package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// oddPaths are names whose JSON needs escaping of every kind.
var oddPaths = []string{
	"", ".", "a b", `quote"d`, `back\slash`, "tab\there", "new\nline", "\x00nul\x1f",
	"<html>&amp;", "\u2028sep\u2029", "ünïcødé/日本語", "bad\xffutf8\xc3", "emoji 🎉", "/lead/and/trail/",
}

func detailsCases() map[string]*Details {
	t0 := time.Date(2026, 11, 29, 4, 0, 0, 123456789, time.FixedZone("x", 3600))
	many := &Details{
		StreamSHA256: "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592",
		Source:       "/src/<&>", Host: "phone\n", Tool: "test", Start: t0, End: t0.Add(time.Hour),
		Counts:   Counts{Entries: 5000, Files: 1, FilesCached: 2, BytesRead: math.MaxInt64, NewBlobs: 3, NewPacks: 4},
		Warnings: []string{"a: b", "bad\xff", ""},
	}
	for i := range 5000 {
		many.Stream = append(many.Stream, uint32(i*7919)%math.MaxUint32, math.MaxUint32-uint32(i))
		f := File{
			Path: fmt.Sprintf("%s/%d", oddPaths[i%len(oddPaths)], i), Type: []string{"file", "dir", "symlink", "hardlink"}[i%4],
			Mode: uint32(i) & 0o7777, MTime: int64(i) * -1e9, UID: i % 3, GID: -i % 5,
			Offset: int64(i) << 20, Piece: 2 * i, Pieces: 1 + i%2,
		}
		if i%3 == 0 {
			f.Size = int64(i) * 4096
		}
		if i%5 == 0 {
			f.Link = oddPaths[(i/5)%len(oddPaths)]
		}
		many.Files = append(many.Files, f)
	}
	return map[string]*Details{
		"many files":          many,
		"zero":                {},
		"empty, not nil":      {Stream: []uint32{}, Warnings: []string{}, Files: []File{}},
		"one zero file":       {Stream: []uint32{0}, Files: []File{{}}},
		"omitted fields only": {Source: "s", Files: []File{{Path: "p", Type: "file"}}},
	}
}

// The details are streamed one file at a time; the text must be exactly
// what json.Marshal gives for the whole, as version 1 manifests were
// written.
func TestWriteDetailsIsMarshal(t *testing.T) {
	for name, d := range detailsCases() {
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := writeDetails(&got, d, false); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			i := 0
			for i < min(got.Len(), len(want)) && got.Bytes()[i] == want[i] {
				i++
			}
			t.Errorf("%s: streamed details differ from json.Marshal at byte %d:\n%.200s\nwant\n%.200s", name, i, got.Bytes()[i:], want[i:])
		}
	}
}

// The public line streamed by Write is json.Marshal of its fields, and the
// whole manifest decodes and opens to what was written, encrypted or not.
func TestWriteIsMarshal(t *testing.T) {
	keys := testKeys()
	for name, d := range detailsCases() {
		for _, enc := range []bool{false, true} {
			m := testManifest()
			m.DowntimeMS = int64(len(name))
			codec := chunkstore.NewCodec(nil)
			if enc {
				codec = testCodec(t)
			}
			m.SetDetails(d)
			b, err := Encode(m, keys, codec)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			line, _, _ := bytes.Cut(b, []byte{'\n'})
			var pj publicJSON
			if err := json.Unmarshal(line, &pj); err != nil {
				t.Fatal(err)
			}
			if again, _ := json.Marshal(pj); !bytes.Equal(line, again) {
				t.Errorf("%s: public line is not json.Marshal of its fields:\n%.300s\nwant\n%.300s", name, line, again)
			}
			got, err := Decode(b, keys)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			plain, err := codec.OpenBytes(got.sealed)
			if err != nil {
				t.Fatal(err)
			}
			dj, err := zdec.DecodeAll(plain, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := json.Marshal(d); !bytes.Equal(dj, want) {
				t.Errorf("%s: sealed details are not json.Marshal of the details", name)
			}
		}
	}
}

var zdec, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxDetailsSize), zstd.WithDecoderConcurrency(1))

// unmarshalDetails parses the JSON of details of the given version as
// Open does, without checking them against a manifest, with their file
// index in Files.
func unmarshalDetails(b []byte, version int) (*Details, error) {
	m := &Manifest{Version: version}
	d := &Details{}
	err := m.parseDetails(json.NewDecoder(bytes.NewReader(b)), d, func(f *File) error {
		d.Files = append(d.Files, *f)
		return nil
	})
	if d.sealedIn != nil && d.Files == nil {
		d.Files = []File{}
	}
	d.sealedIn = nil
	return d, err
}

// testCodec encrypts to a fresh age identity and holds it.
func testCodec(t *testing.T) *chunkstore.Codec {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	c := chunkstore.NewCodec([]age.Recipient{id.Recipient()})
	c.SetIdentities([]age.Identity{id})
	return c
}

// A FileIndex writes its entries exactly as Details.Files holding them.
func TestFileIndexIsMarshal(t *testing.T) {
	for name, d := range detailsCases() {
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var x FileIndex
		for i := range d.Files {
			if err := x.Add(&d.Files[i]); err != nil {
				t.Fatal(err)
			}
		}
		if x.Len() != len(d.Files) {
			t.Errorf("%s: Len = %d, want %d", name, x.Len(), len(d.Files))
		}
		if d.Files == nil {
			// An index is never null: it writes as an empty list.
			want = bytes.Replace(want, []byte(`"files":null`), []byte(`"files":[]`), 1)
		}
		d.Files = nil
		d.SetFileIndex(&x)
		var got bytes.Buffer
		if err := writeDetails(&got, d, false); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s: details written from a FileIndex differ from json.Marshal:\n%.300s\nwant\n%.300s", name, got.Bytes(), want)
		}
		if err := x.Add(&File{Path: "late"}); err == nil {
			t.Errorf("%s: Add after the index was written succeeded", name)
		}
	}
}

func TestBlocksReadBackWhatWasWritten(t *testing.T) {
	var b blocks
	var want []byte
	for i := range 200 {
		p := bytes.Repeat([]byte{byte(i)}, i*i*7%(3*blockSize/2))
		if n, err := b.Write(p); n != len(p) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		want = append(want, p...)
	}
	got, err := io.ReadAll(b.reader())
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (%v), wrote %d", len(got), err, len(want))
	}
	for i, blk := range b {
		if cap(blk) != blockSize || i < len(b)-1 && len(blk) != blockSize {
			t.Fatalf("block %d of %d holds %d of %d bytes", i, len(b), len(blk), cap(blk))
		}
	}
}

// Issue 20: a version 2 manifest stores each entry's offset and piece as
// differences to the previous entry's; read back, the details are the
// ones written, whether the entries came from Files or a FileIndex.
// (Compared once decoded: invalid UTF-8 is written as U+FFFD, escaped or
// not.)
func TestDetailsV2RoundTrip(t *testing.T) {
	decoded := func(b []byte, version int) []byte {
		t.Helper()
		d, err := unmarshalDetails(b, version)
		if err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for name, d := range detailsCases() {
		v1, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		want := decoded(v1, Version)
		var fromFiles bytes.Buffer
		if err := writeDetails(&fromFiles, d, true); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := decoded(fromFiles.Bytes(), Version2); !bytes.Equal(got, want) {
			t.Errorf("%s: read back as\n%.300s\nwant\n%.300s", name, got, want)
		}
		if len(d.Files) > 1 && bytes.Contains(fromFiles.Bytes(), []byte(`"offset":`)) {
			t.Errorf("%s: version 2 details hold absolute offsets", name)
		}
		if d.Files == nil {
			continue // an index is never null
		}
		var x FileIndex
		for i := range d.Files {
			if err := x.Add(&d.Files[i]); err != nil {
				t.Fatal(err)
			}
		}
		d.Files = nil
		d.SetFileIndex(&x)
		var fromIndex bytes.Buffer
		if err := writeDetails(&fromIndex, d, true); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := decoded(fromIndex.Bytes(), Version2); !bytes.Equal(got, want) {
			t.Errorf("%s: version 2 details from a FileIndex read back as\n%.300s\nwant\n%.300s", name, got, want)
		}
	}
}
