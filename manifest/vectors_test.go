package manifest

import (
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/golden"
)

// vectorKeys are the vectors' fixed secrets (chunkstore's vectorKeys):
// blob key bytes 00..1f, MAC key bytes 20..3f.
func vectorKeys() *chunkstore.Keys {
	k := &chunkstore.Keys{Polynomial: 0x3dea92648f6e83}
	for i := range k.BlobKey {
		k.BlobKey[i] = byte(i)
		k.MACKey[i] = byte(32 + i)
	}
	return k
}

// Issue 20: the bytes of a set object and of a version 2 manifest that
// names its blobs against it, for fixed keys and blobs (those of
// blob-ids.txt: the base holds blobs 0, 1 and 2; the snapshot 1, 2 and
// 3), with details only compressed (encoding zstd). The pinned bytes
// decode to the same blobs.
func TestVectorManifestV2(t *testing.T) {
	keys := vectorKeys()
	long := make([]byte, 100000)
	for i := range long {
		long[i] = byte(i * 7)
	}
	var ids []chunkstore.ID
	for _, p := range [][]byte{nil, []byte("pocketsnap"), make([]byte, 1024), long} {
		ids = append(ids, keys.BlobID(p))
	}
	prefixes := func(ids []chunkstore.ID) []Prefix {
		sorted := slices.SortedFunc(slices.Values(ids), func(a, b chunkstore.ID) int { return strings.Compare(a.String(), b.String()) })
		ps, err := prefixesOf(sorted)
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	setBytes, setID := EncodeSet(prefixes(ids[:3]))

	t0 := time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)
	blobs, stream := Index([]chunkstore.ID{ids[1], ids[2], ids[3]})
	m := &Manifest{Version: Version2, Name: Name("db", t0), Kind: "db", Time: t0, StreamSize: 3072, AddedBytes: 999, Blobs: blobs, Base: setID}
	m.added, m.removed = diffSets(prefixes(ids[:3]), prefixes(blobs))
	m.SetDetails(&Details{Stream: stream, Source: "/src", Host: "phone", Tool: "test", Start: t0, End: t0.Add(time.Second),
		Files: []File{{Path: ".", Type: "dir", Mode: 0o755, MTime: 1, Pieces: 3}}})
	codec := chunkstore.NewCodec(nil)
	stored, err := Encode(m, keys, codec)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	out.WriteString("# Set object sets/" + setID.String() + " (\"pocketsnap set v2\\n\", then the\n")
	out.WriteString("# sorted 16-byte prefixes of blobs 0, 1, 2 of blob-ids.txt), in hex:\n")
	out.WriteString(hex.EncodeToString(setBytes) + "\n")
	out.WriteString("# Manifest version 2 of blobs 1, 2, 3 against it (details: zstd only),\n")
	out.WriteString("# MAC key bytes 20..3f; between the lines:\n---\n")
	out.Write(stored)
	out.WriteString("---\n")
	golden.Check(t, filepath.Join("..", "testdata", "vectors", "manifest-v2.txt"), []byte(out.String()))

	got, err := Decode(stored, keys)
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(p Prefix) (chunkstore.ID, bool) {
		for _, id := range ids {
			if Prefix(id[:chunkstore.PrefixSize]) == p {
				return id, true
			}
		}
		return chunkstore.ID{}, false
	}
	if err := got.UseSet(setBytes, resolve); err != nil {
		t.Fatal(err)
	}
	if _, err := got.Open(codec); err != nil || !slices.Equal(streamIDs(got), []chunkstore.ID{ids[1], ids[2], ids[3]}) {
		t.Fatalf("the pinned manifest reads back as %v, %v", got.Blobs, err)
	}
}
