package chunkstore

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func testEntries() []BlobEntry {
	return []BlobEntry{
		{ID: ID{1}, Offset: 0, Length: 10, RawLength: 20},
		{ID: ID{2}, Offset: 10, Length: 5, RawLength: 5},
	}
}

func TestTrailerRoundTrip(t *testing.T) {
	data := appendTrailer(make([]byte, 15), testEntries())
	got, err := readTrailer(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, testEntries()) {
		t.Fatalf("got %+v", got)
	}
	// The trailer is a zstd skippable frame: magic 0x184D2A5?, then its size.
	tr := data[15:]
	if binary.LittleEndian.Uint32(tr)&^0xF != 0x184D2A50 || int(binary.LittleEndian.Uint32(tr[4:])) != len(tr)-8 {
		t.Fatal("trailer is not a well-formed skippable frame")
	}
}

func TestTrailerRejectsInconsistentEntries(t *testing.T) {
	for name, e := range map[string][]BlobEntry{
		"gap":      {{ID: ID{1}, Offset: 1, Length: 14}},
		"overlap":  {{ID: ID{1}, Offset: 0, Length: 10}, {ID: ID{2}, Offset: 5, Length: 10}},
		"too long": {{ID: ID{1}, Offset: 0, Length: 16}},
		"short":    {{ID: ID{1}, Offset: 0, Length: 10}},
		"empty":    {{ID: ID{1}, Offset: 0, Length: 0}, {ID: ID{2}, Offset: 0, Length: 15}},
		"huge raw": {{ID: ID{1}, Offset: 0, Length: 15, RawLength: maxBlobSize + 1}},
	} {
		data := appendTrailer(make([]byte, 15), e)
		if _, err := readTrailer(bytes.NewReader(data), int64(len(data))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzTrailer: no input makes readTrailer panic or return entries that
// point outside the pack; every accepted trailer re-encodes identically.
func FuzzTrailer(f *testing.F) {
	ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzTrailer"))
	if err != nil || len(ents) == 0 {
		f.Fatalf("the seed corpus testdata/fuzz/FuzzTrailer is empty or missing: %v", err)
	}
	f.Add(appendTrailer(make([]byte, 15), testEntries()))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := readTrailer(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		var end uint32
		for _, e := range entries {
			end = e.Offset + e.Length
		}
		again := appendTrailer(bytes.Clone(data[:end]), entries)
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted trailer does not re-encode to the same bytes")
		}
	})
}
