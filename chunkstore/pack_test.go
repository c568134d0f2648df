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

// A padded pack: the blobs, a padding frame, the trailer.
func paddedPack(pad int) []byte {
	data := make([]byte, 15, 15+pad)
	data = appendPaddingHeader(data, int64(pad))
	data = append(data, make([]byte, pad-paddingHeader)...)
	return appendTrailer(data, testEntries())
}

func TestTrailerWithPadding(t *testing.T) {
	for _, pad := range []int{paddingHeader, 100} {
		data := paddedPack(pad)
		got, err := readTrailer(bytes.NewReader(data), int64(len(data)))
		if err != nil || !reflect.DeepEqual(got, testEntries()) {
			t.Fatalf("padding of %d bytes: %+v, %v", pad, got, err)
		}
	}
	for name, change := range map[string]func([]byte){
		"other magic":  func(b []byte) { b[15] ^= 1 },
		"longer size":  func(b []byte) { b[19]++ },
		"shorter size": func(b []byte) { b[19]-- },
	} {
		data := paddedPack(100)
		change(data)
		if _, err := readTrailer(bytes.NewReader(data), int64(len(data))); err == nil {
			t.Errorf("%s: accepted", name)
		}
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
// point outside the pack; whatever lies between the blobs and an accepted
// trailer is a padding frame, and the trailer re-encodes identically.
func FuzzTrailer(f *testing.F) {
	ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzTrailer"))
	if err != nil || len(ents) == 0 {
		f.Fatalf("the seed corpus testdata/fuzz/FuzzTrailer is empty or missing: %v", err)
	}
	f.Add(appendTrailer(make([]byte, 15), testEntries()))
	f.Add(paddedPack(100))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := readTrailer(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		var end int64
		for _, e := range entries {
			end = int64(e.Offset) + int64(e.Length)
		}
		start := int64(len(data)) - int64(binary.LittleEndian.Uint32(data[len(data)-4:]))
		if gap := start - end; gap != 0 && !bytes.Equal(data[end:end+paddingHeader], appendPaddingHeader(nil, gap)) {
			t.Fatalf("accepted %d bytes between the blobs and the trailer that are not a padding frame", gap)
		}
		again := appendTrailer(bytes.Clone(data[:start]), entries)
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted trailer does not re-encode to the same bytes")
		}
	})
}
