package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/restic/chunker"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/golden"
)

// update is the shared -update flag (internal/golden).
var update = golden.Update

// testKeys are fixed so that the golden file and fuzz corpus authenticate.
func testKeys() *chunkstore.Keys {
	k := &chunkstore.Keys{Polynomial: chunker.Pol(0x3DA3358B4DC173)}
	for i := range k.BlobKey {
		k.BlobKey[i], k.MACKey[i] = byte(i), byte(255-i)
	}
	return k
}

func testManifest() *Manifest {
	keys := testKeys()
	stream := []chunkstore.ID{keys.BlobID([]byte("hdr a")), keys.BlobID([]byte("body a")), keys.BlobID([]byte("hdr a")), keys.BlobID(make([]byte, 1024))}
	blobs, idx := Index(stream)
	t0 := time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)
	m := &Manifest{Version: Version, Name: Name("db", t0), Kind: "db", Time: t0, StreamSize: 3072, AddedBytes: 999, Blobs: blobs}
	m.SetDetails(&Details{
		Stream: idx, StreamSHA256: "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592",
		Source: "/src", Host: "phone", Tool: "test", Start: t0, End: t0.Add(time.Second),
		Counts: Counts{Entries: 2, Files: 1, BytesRead: 6, NewBlobs: 3, NewPacks: 1},
		Files: []File{
			{Path: ".", Type: "dir", Mode: 0o755, MTime: 1, Offset: 0, Piece: 0, Pieces: 1},
			{Path: "a", Type: "file", Mode: 0o644, Size: 6, MTime: 2, Offset: 512, Piece: 1, Pieces: 2},
		},
	})
	return m
}

func TestRoundTrip(t *testing.T) {
	keys, codec := testKeys(), chunkstore.NewCodec(nil)
	m := testManifest()
	b, err := Encode(m, keys, codec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b, keys)
	if err != nil {
		t.Fatal(err)
	}
	d, err := got.Open(codec)
	if err != nil {
		t.Fatal(err)
	}
	if d.Files != nil {
		t.Fatal("Open kept the file index")
	}
	if !reflect.DeepEqual(withFiles(t, got), m.Details()) || !reflect.DeepEqual(got.Blobs, m.Blobs) || got.Name != m.Name || !got.Time.Equal(m.Time) {
		t.Fatalf("round trip changed the manifest:\n%+v\n%+v", got, m)
	}
	if !reflect.DeepEqual(streamIDs(got), streamIDs(m)) || len(streamIDs(m)) != 4 {
		t.Fatal("stream order changed")
	}
}

// withFiles returns a copy of m's open details with their file index in
// Files, as details are written, to compare them with those.
func withFiles(t testing.TB, m *Manifest) *Details {
	t.Helper()
	d := *m.Details()
	if d.sealedIn != nil {
		files, err := m.Files()
		if err != nil {
			t.Fatal(err)
		}
		d.Files, d.sealedIn = files, nil
	}
	return &d
}

// streamIDs collects what m.StreamIDs yields, checking the positions.
func streamIDs(m *Manifest) []chunkstore.ID {
	var out []chunkstore.ID
	for i, id := range m.StreamIDs() {
		if i != len(out) || id != m.StreamID(i) {
			panic("StreamIDs yields positions out of order")
		}
		out = append(out, id)
	}
	return out
}

// The golden file pins the version 1 encoding: run with -update only for a
// deliberate format change (and note it in doc/format.md's change log).
func TestGolden(t *testing.T) {
	b, err := Encode(testManifest(), testKeys(), chunkstore.NewCodec(nil))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "manifest-v1.golden")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		writeCorpus(t, b)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding differs from %s:\n%s\nwant\n%s", path, b, want)
	}
	if _, err := Decode(want, testKeys()); err != nil {
		t.Fatalf("golden manifest no longer decodes: %v", err)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	keys := testKeys()
	good, err := Encode(testManifest(), keys, chunkstore.NewCodec(nil))
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(good, []byte{'\n'})
	other := testKeys()
	other.MACKey[0] ^= 1
	forged, _ := Encode(testManifest(), other, chunkstore.NewCodec(nil))
	var pub map[string]any
	json.Unmarshal(line, &pub)
	pub["incomplete"] = true
	altered, _ := json.Marshal(pub)
	cases := map[string][]byte{
		"flipped byte":     flip(good, len(line)/2),
		"truncated":        good[:len(good)/2],
		"no MAC line":      line,
		"other MAC key":    forged,
		"altered field":    append(append(altered, '\n'), good[len(line)+1:]...),
		"empty":            nil,
		"MAC of other doc": append(append([]byte(`{"version":1}`), '\n'), good[len(line)+1:]...),
	}
	// Issue 10: a manifest cut short anywhere, even by its last newline,
	// or with anything appended, is refused.
	for n := range len(good) {
		cases[fmt.Sprintf("first %d bytes", n)] = good[:n]
	}
	for _, tail := range []string{" ", "\n", "x", "{}\n"} {
		cases[fmt.Sprintf("with %q appended", tail)] = append(bytes.Clone(good), tail...)
	}
	cases["MAC line in upper case"] = append(bytes.Clone(good[:len(line)+1]), bytes.ToUpper(good[len(line)+1:])...)
	for name, b := range cases {
		if _, err := Decode(b, keys); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Decode = %v, want ErrInvalid", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x04
	return c
}

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		name, kind string
		ok         bool
	}{
		{"db-20261129T040000Z", "db", true},
		{"rootfs-20240229T235959Z", "rootfs", true},
		{"my_notes-20261129T040000Z", "my_notes", true},
		{"db-20261129T040000", "", false},
		{"DB-20261129T040000Z", "", false},
		{"db20261129T040000Z", "", false},
		{"../x-20261129T040000Z", "", false},
		{"db-20261329T040000Z", "", false},
	} {
		kind, _, err := ParseName(tc.name)
		if (err == nil) != tc.ok || kind != tc.kind {
			t.Errorf("ParseName(%q) = %q, %v", tc.name, kind, err)
		}
	}
}

// writeCorpus writes the fuzz seed corpus: the golden manifest, a truncated
// one, and authenticated manifests whose details are out of range.
func writeCorpus(t *testing.T, golden []byte) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bad := testManifest()
	bad.Details().Stream[0] = 99
	badIndex, _ := Encode(bad, testKeys(), chunkstore.NewCodec(nil))
	bad = testManifest()
	bad.Details().Files[1].Pieces = 50
	badFile, _ := Encode(bad, testKeys(), chunkstore.NewCodec(nil))
	for name, b := range map[string][]byte{
		"valid": golden, "truncated": golden[:len(golden)/3],
		"stream-index-out-of-range": badIndex, "file-pieces-out-of-range": badFile,
	} {
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(seed), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
