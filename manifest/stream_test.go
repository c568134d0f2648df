package manifest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// wholeDetails is the decoder Open used before Issue 20's streaming one:
// the whole decompressed JSON unmarshalled at once, the file index into
// a []File. The streaming decoder must see what it saw.
func wholeDetails(t testing.TB, m *Manifest, codec *chunkstore.Codec) *Details {
	t.Helper()
	z, err := codec.OpenBytes(m.sealed)
	if err != nil {
		t.Fatal(err)
	}
	dj, err := zdec.DecodeAll(z, nil)
	if err != nil {
		t.Fatal(err)
	}
	var d Details
	if m.Version != Version2 {
		if err := json.Unmarshal(dj, &d); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	v := struct {
		*Details
		Files []fileV2 `json:"files"`
	}{Details: &d}
	if err := json.Unmarshal(dj, &v); err != nil {
		t.Fatal(err)
	}
	if v.Files != nil {
		d.Files = make([]File, len(v.Files))
		var dl deltas
		for i := range v.Files {
			d.Files[i] = dl.decode(&v.Files[i])
		}
	}
	return &d
}

// manyManifest returns a manifest of n file index entries, of version 1
// or 2, with odd paths, and the set object a version 2 one is read with.
func manyManifest(n int, version int) (*Manifest, []byte) {
	keys := testKeys()
	t0 := time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)
	var stream []chunkstore.ID
	d := &Details{Source: "/src", Host: "phone", Tool: "test", Start: t0, End: t0}
	var off int64
	for i := range n {
		f := File{
			Path: fmt.Sprintf("%s/dir%d/file-%d", oddPaths[i%len(oddPaths)], i/100, i), Type: "file",
			Mode: 0o644, Size: int64(i % 5000), MTime: int64(i) * 1e9, UID: i % 7, GID: i % 3,
			Offset: off, Piece: len(stream), Pieces: 1 + i%3,
		}
		if i%9 == 0 {
			f.Type, f.Link = "hardlink", oddPaths[(i/9)%len(oddPaths)]
		}
		for p := range f.Pieces {
			stream = append(stream, keys.BlobID(fmt.Appendf(nil, "%d/%d", i, p%2)))
		}
		off += 512 * int64(f.Pieces)
		d.Files = append(d.Files, f)
	}
	stream = append(stream, keys.BlobID(make([]byte, 1024)))
	m := &Manifest{Version: Version, Name: Name("tree", t0), Kind: "tree", Time: t0, StreamSize: off + 1024}
	m.Blobs, d.Stream = Index(stream)
	m.SetDetails(d)
	if version != Version2 {
		return m, nil
	}
	ps, err := prefixesOf(m.Blobs)
	if err != nil {
		panic(err)
	}
	set, id := EncodeSet(ps[:len(ps)/2])
	m.Version, m.Base = Version2, id
	m.added, m.removed = diffSets(ps[:len(ps)/2], ps)
	return m, set
}

// readBack decodes stored, takes its set object (for version 2) and opens
// it.
func readBack(t testing.TB, stored, set []byte, keys *chunkstore.Keys, codec *chunkstore.Codec, resolve func(Prefix) (chunkstore.ID, bool)) (*Manifest, error) {
	t.Helper()
	m, err := Decode(stored, keys)
	if err != nil {
		return nil, err
	}
	if err := m.UseSet(set, resolve); err != nil {
		return nil, err
	}
	_, err = m.Open(codec)
	return m, err
}

// visited returns what EachFile hands out, checking the positions.
func visited(t testing.TB, m *Manifest) []File {
	t.Helper()
	var out []File
	err := m.EachFile(func(i int, f *File) error {
		if i != len(out) {
			t.Fatalf("EachFile gave position %d for entry %d", i, len(out))
		}
		out = append(out, *f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Issue 20 (peak RSS, the manifest's decode path): the streaming decoder
// visits exactly the entries, and reads exactly the other details, that
// the whole-JSON decoder did: on the pinned version 2 vector, the golden
// version 1 manifest, and generated manifests of many entries of both
// versions, plain and encrypted.
func TestEachFileIsTheWholeDecode(t *testing.T) {
	type tc struct {
		name          string
		stored, set   []byte
		keys          *chunkstore.Keys
		codec         *chunkstore.Codec
		resolve       func(Prefix) (chunkstore.ID, bool)
		wantFilesOver int
	}
	none := func(Prefix) (chunkstore.ID, bool) { return chunkstore.ID{}, false }
	var cases []tc

	vec, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "manifest-v2.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(vec), "\n")
	setHex := lines[2]
	_, stored, _ := strings.Cut(string(vec), "---\n")
	stored, _, _ = strings.Cut(stored, "---\n")
	vecSet, err := hex.DecodeString(setHex)
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, tc{"vector v2", []byte(stored), vecSet, vectorKeys(), chunkstore.NewCodec(nil), none, 0})

	golden, err := os.ReadFile(filepath.Join("testdata", "manifest-v1.golden"))
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, tc{"golden v1", golden, nil, testKeys(), chunkstore.NewCodec(nil), none, 1})

	for _, version := range []int{Version, Version2} {
		for _, enc := range []bool{false, true} {
			m, set := manyManifest(5000, version)
			codec := chunkstore.NewCodec(nil)
			if enc {
				codec = testCodec(t)
			}
			b, err := Encode(m, testKeys(), codec)
			if err != nil {
				t.Fatal(err)
			}
			ids := map[Prefix]chunkstore.ID{}
			for _, id := range m.Blobs {
				ids[Prefix(id[:chunkstore.PrefixSize])] = id
			}
			resolve := func(p Prefix) (chunkstore.ID, bool) { id, ok := ids[p]; return id, ok }
			cases = append(cases, tc{fmt.Sprintf("5000 entries v%d encrypted=%v", version, enc), b, set, testKeys(), codec, resolve, 4999})
		}
	}
	for _, c := range cases {
		m, err := readBack(t, c.stored, c.set, c.keys, c.codec, c.resolve)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := wholeDetails(t, m, c.codec)
		got := visited(t, m)
		if len(got) <= c.wantFilesOver || !reflect.DeepEqual(got, want.Files) {
			t.Fatalf("%s: EachFile visited %d entries, the whole decode %d, or others", c.name, len(got), len(want.Files))
		}
		if m.FileCount() != len(got) || m.Details().Files != nil {
			t.Errorf("%s: FileCount %d of %d, Files held: %v", c.name, m.FileCount(), len(got), m.Details().Files != nil)
		}
		d := *m.Details()
		d.sealedIn, want.Files = nil, nil
		if !reflect.DeepEqual(&d, want) {
			t.Errorf("%s: the details read as\n%+v\nwant\n%+v", c.name, d, *want)
		}
	}
}

// remac returns stored with its details replaced by sealed, MAC'd again
// under keys: what only the key's holder can write.
func remac(t testing.TB, stored, sealed []byte, keys *chunkstore.Keys) []byte {
	t.Helper()
	line, _, _ := bytes.Cut(stored, []byte{'\n'})
	pre, rest, ok := bytes.Cut(line, []byte(`"details":"`))
	_, post, ok2 := bytes.Cut(rest, []byte{'"'})
	if !ok || !ok2 {
		t.Fatal("no details in the manifest")
	}
	line = fmt.Appendf(nil, `%s"details":"%s"%s`, pre, base64.StdEncoding.EncodeToString(sealed), post)
	return append(append(append(line, '\n'), macLine(keys.MAC(line))...), '\n')
}

// Issue 20 (fail closed): a damaged manifest is refused before any entry
// of its file index is handed to a caller. Truncated or with a bit
// flipped anywhere, it does not decode; MAC'd again by the key's holder
// with its sealed details cut short, or its last entry out of range, it
// decodes but does not open, though the streaming decoder had read
// entries before the damage; EachFile then refuses to run.
func TestDamagedManifestHandsOutNoEntry(t *testing.T) {
	keys, codec := testKeys(), testCodec(t)
	m, _ := manyManifest(500, Version)
	stored, err := Encode(m, keys, codec)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, b []byte) {
		t.Helper()
		got, err := Decode(b, keys)
		if err == nil {
			if _, err = got.Open(codec); err == nil {
				t.Fatalf("%s: opened", what)
			}
			calls := 0
			if err := got.EachFile(func(int, *File) error { calls++; return nil }); err == nil || calls > 0 {
				t.Fatalf("%s: EachFile handed out %d entries (%v)", what, calls, err)
			}
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: %v, want ErrInvalid", what, err)
		}
	}
	for i := 0; i < len(stored); i += 1 + len(stored)/200 {
		refused(fmt.Sprintf("cut at %d", i), stored[:i])
		flipped := bytes.Clone(stored)
		flipped[i] ^= 1 << (i % 8)
		refused(fmt.Sprintf("bit flipped at %d", i), flipped)
	}
	refused("one byte appended", append(bytes.Clone(stored), '\n'))

	// Large enough that age and zstd hand out plaintext before the cut.
	big, _ := manyManifest(20000, Version)
	bigStored, err := Encode(big, keys, codec)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := Decode(bigStored, keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{len(decoded.sealed) / 2, len(decoded.sealed) - 1} {
		b := remac(t, bigStored, decoded.sealed[:cut], keys)
		what := fmt.Sprintf("sealed details cut to %d of %d bytes", cut, len(decoded.sealed))
		early, err := Decode(b, keys)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		err = early.readDetails(codec, &Details{}, func(*File) error { seen++; return nil })
		if !errors.Is(err, ErrInvalid) || seen == 0 {
			t.Fatalf("%s: the decoder read %d entries before the damage (%v); the case tests nothing", what, seen, err)
		}
		refused(what, b)
	}
	files := m.Details().Files
	files[len(files)-1].Pieces = len(m.Details().Stream) + 1
	bad, err := Encode(m, keys, codec)
	if err != nil {
		t.Fatal(err)
	}
	refused("last entry out of range", bad)
}

// liveHeap returns the bytes of live heap objects.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Issue 20 (peak RSS): a file index larger than what the decoder may
// hold is visited without being held. Opened, a manifest of 100000
// entries holds its sealed details, its stream and its blob set, not its
// entries (about 14 MB as []File); walking them holds one at a time.
func TestEachFileDoesNotHoldTheIndex(t *testing.T) {
	const n = 100000
	keys, codec := testKeys(), chunkstore.NewCodec(nil)
	m, _ := manyManifest(n, Version)
	stored, err := Encode(m, keys, codec)
	if err != nil {
		t.Fatal(err)
	}
	m = nil
	const slack = 2 << 20
	before := liveHeap()
	got, err := Decode(stored, keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := got.Open(codec); err != nil {
		t.Fatal(err)
	}
	held := liveHeap() - before
	own := uint64(len(got.sealed) + len(got.Blobs)*chunkstore.IDSize + len(got.Details().Stream)*4)
	if held > own+slack {
		t.Errorf("an open manifest of %d entries holds %d bytes, more than its %d sealed, blob and stream bytes", n, held, own)
	}
	var peak uint64
	count := 0
	err = got.EachFile(func(i int, f *File) error {
		if count++; i%(n/8) == n/16 {
			peak = max(peak, liveHeap())
		}
		return nil
	})
	if err != nil || count != n {
		t.Fatalf("visited %d of %d entries: %v", count, n, err)
	}
	if grew := int64(peak) - int64(before+held); grew > slack {
		t.Errorf("walking %d entries held %d more bytes", n, grew)
	}
	runtime.KeepAlive(stored)
	runtime.KeepAlive(got)
}

// BenchmarkOpenEachFile measures opening a manifest of 100000 entries
// and walking its file index: with -benchmem, B/op is the garbage of
// decoding, not a copy of the index.
func BenchmarkOpenEachFile(b *testing.B) {
	keys, codec := testKeys(), chunkstore.NewCodec(nil)
	m, _ := manyManifest(100000, Version)
	stored, err := Encode(m, keys, codec)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := readBack(b, stored, nil, keys, codec, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := got.EachFile(func(int, *File) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// Issue 20 (peak RSS at the end of a backup): Index, which sorts the
// stream's positions instead of a copy of its IDs, gives what sorting a
// copy gave, on streams with and without repeats.
func TestIndexIsTheSortedSet(t *testing.T) {
	keys := testKeys()
	for _, n := range []int{0, 1, 2, 1000} {
		for _, distinct := range []int{1, 7, n} {
			if distinct == 0 {
				continue
			}
			stream := make([]chunkstore.ID, n)
			for i := range stream {
				stream[i] = keys.BlobID(fmt.Appendf(nil, "%d", (i*7919)%distinct))
			}
			set, idx := Index(stream)
			want := slices.SortedFunc(slices.Values(stream), func(a, b chunkstore.ID) int { return bytes.Compare(a[:], b[:]) })
			want = slices.Compact(want)
			if !slices.Equal(set, want) || len(idx) != n {
				t.Fatalf("%d of %d distinct: set of %d, want %d", n, distinct, len(set), len(want))
			}
			for i, k := range idx {
				if set[k] != stream[i] {
					t.Fatalf("%d of %d distinct: position %d indexes another blob", n, distinct, i)
				}
			}
		}
	}
}

// Issue 20 (peak RSS at the end of a backup): Write streams a version 2
// manifest's blob delta in base64 as it streams the details, never
// building the public line whole: writing one that adds a million
// blobs (21 MB of base64) allocates a fraction of that.
func TestWriteDoesNotBuildThePublicLine(t *testing.T) {
	m := testManifest()
	m.Version, m.Base = Version2, chunkstore.ID{1}
	m.added = make([]Prefix, 1<<20)
	for i := range m.added {
		binary.BigEndian.PutUint64(m.added[i][:], uint64(i))
	}
	b64 := base64.StdEncoding.EncodedLen(len(m.added) * chunkstore.PrefixSize)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := countingWrite(m)
	runtime.ReadMemStats(&after)
	if err != nil || n < int64(b64) {
		t.Fatalf("wrote %d bytes (%v), want more than %d", n, err, b64)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(b64)/3 {
		t.Errorf("writing %d bytes of base64 allocated %d bytes", b64, alloc)
	}
}

// countingWrite writes m's stored form, counting its bytes.
func countingWrite(m *Manifest) (int64, error) {
	var c countWriter
	err := Write(&c, m, testKeys(), chunkstore.NewCodec(nil))
	return int64(c), err
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// Issue 20 (peak RSS): once a full restore lets go of the file index,
// walking it or writing the manifest again fails rather than see no
// entries; the stream is still there.
func TestDropFileIndex(t *testing.T) {
	keys, codec := testKeys(), chunkstore.NewCodec(nil)
	stored, err := Encode(testManifest(), keys, codec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := readBack(t, stored, nil, keys, codec, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.DropFileIndex()
	if m.sealed != nil || m.Details().sealedIn != nil {
		t.Error("the sealed details are still held")
	}
	if err := m.EachFile(func(int, *File) error { return nil }); err == nil || !strings.Contains(err.Error(), "let go") {
		t.Errorf("EachFile after DropFileIndex: %v", err)
	}
	if _, err := Encode(m, keys, codec); err == nil {
		t.Error("a manifest without its file index was written")
	}
	if m.StreamLen() != 4 || m.FileCount() != 2 {
		t.Errorf("stream of %d, %d files after DropFileIndex", m.StreamLen(), m.FileCount())
	}
}

// Issue 20 (fail closed): the streaming parser of the public line takes
// it only as Write writes it. Lines that only the MAC key's holder could
// write, authentic but malformed, are refused: base64 with data after
// its padding (within a piece and across the pieces it is decoded in),
// cut short or with a character outside the alphabet, escapes, white
// space, a key given twice.
func TestPublicLineIsTakenOnlyAsWritten(t *testing.T) {
	keys := testKeys()
	stored, err := Encode(testManifest(), keys, chunkstore.NewCodec(nil))
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(stored, []byte{'\n'})
	mac := func(line []byte) []byte {
		return append(append(append(bytes.Clone(line), '\n'), macLine(keys.MAC(line))...), '\n')
	}
	if _, err := Decode(mac(line), keys); err != nil {
		t.Fatalf("the line as written: %v", err)
	}
	_, blobs, _ := bytes.Cut(line, []byte(`"blobs":"`))
	blobs, _, _ = bytes.Cut(blobs, []byte(`"`))
	long := strings.Repeat("A", 4<<10)
	for what, alter := range map[string]func(string) string{
		"padding, then data":             func(s string) string { return strings.Replace(s, string(blobs), "AA==AAAA", 1) },
		"padding, then data a piece on":  func(s string) string { return strings.Replace(s, string(blobs), long[:len(long)-4]+"AA=="+long, 1) },
		"cut short":                      func(s string) string { return strings.Replace(s, string(blobs), string(blobs[:len(blobs)-1]), 1) },
		"outside the alphabet":           func(s string) string { return strings.Replace(s, string(blobs), "AA\rA"+string(blobs[4:]), 1) },
		"an escape in base64":            func(s string) string { return strings.Replace(s, string(blobs), `\u0041`+string(blobs[1:]), 1) },
		"white space":                    func(s string) string { return strings.Replace(s, `"kind":`, `"kind": `, 1) },
		"a key twice":                    func(s string) string { return strings.Replace(s, `{`, `{"kind":"db",`, 1) },
		"an escaped key":                 func(s string) string { return strings.Replace(s, `"kind":`, `"kin\u0064":`, 1) },
		"trailing data":                  func(s string) string { return s + " " },
		"not an object":                  func(s string) string { return "[" + s[1:] },
		"a long value of an unknown key": func(s string) string { return strings.Replace(s, `{`, `{"x":"`+long+`",`, 1) },
	} {
		bad := []byte(alter(string(line)))
		if bytes.Equal(bad, line) {
			t.Fatalf("%s: the line is unchanged", what)
		}
		if _, err := Decode(mac(bad), keys); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", what, err)
		}
	}
}
