package manifest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

func randomPrefixes(r *rand.Rand, n int) []Prefix {
	out := make([]Prefix, n)
	for i := range out {
		for j := range out[i] {
			out[i][j] = byte(r.IntN(256))
		}
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out)
}

// Issue 20 (manifest v2, public part): a delta applied to its base gives
// the set back, and a delta not made against the base is refused.
func TestSetDelta(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 1))
	for range 50 {
		all := randomPrefixes(r, 200)
		var base, set []Prefix
		for _, p := range all {
			switch r.IntN(3) {
			case 0:
				base = append(base, p)
			case 1:
				set = append(set, p)
			default:
				base, set = append(base, p), append(set, p)
			}
		}
		added, removed := diffSets(base, set)
		got, err := applyDelta(base, added, removed)
		if err != nil || !slices.Equal(got, set) {
			t.Fatalf("applyDelta(diffSets) = %d prefixes, %v; want %d", len(got), err, len(set))
		}
		if len(added) > 0 {
			if _, err := applyDelta(set, added, nil); err == nil {
				t.Fatal("a delta adding a prefix the base has is accepted")
			}
		}
		if len(removed) > 0 {
			if _, err := applyDelta(set, nil, removed); err == nil {
				t.Fatal("a delta removing a prefix the base lacks is accepted")
			}
		}
	}
}

// Issue 20: a set object is bound to its name, and its content must be
// sorted, distinct, whole prefixes.
func TestDecodeSetRefusesDamage(t *testing.T) {
	ps := randomPrefixes(rand.New(rand.NewPCG(20, 2)), 10)
	b, id := EncodeSet(ps)
	if got, err := DecodeSet(b, id); err != nil || !slices.Equal(got, ps) {
		t.Fatalf("DecodeSet = %v, %v", got, err)
	}
	swapped := slices.Clone(b)
	copy(swapped[len(setMagic):], b[len(setMagic)+16:len(setMagic)+32])
	copy(swapped[len(setMagic)+16:], b[len(setMagic):len(setMagic)+16])
	for name, bad := range map[string][]byte{
		"altered":  flip(b, len(b)-1),
		"cut":      b[:len(b)-1],
		"unsorted": swapped,
		"magic":    append([]byte("pocketsnap set v3\n"), b[len(setMagic):]...),
	} {
		if _, err := DecodeSet(bad, id); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), SetName(id)) {
			t.Errorf("%s: %v; want ErrInvalid naming %s", name, err, SetName(id))
		}
		if _, err := DecodeSet(bad, sha256.Sum256(bad)); name != "altered" && err == nil {
			t.Errorf("%s, under its own name: accepted", name)
		}
	}
}

// v2Manifest returns a manifest of kind db at hour h whose blobs are the
// keyed IDs of the given names.
func v2Manifest(h int, names ...string) *Manifest {
	keys := testKeys()
	stream := make([]chunkstore.ID, len(names))
	for i, n := range names {
		stream[i] = keys.BlobID([]byte(n))
	}
	m := testManifest()
	m.Time = m.Time.Add(time.Duration(h) * time.Hour)
	m.Name = Name("db", m.Time)
	blobs, idx := Index(stream)
	m.Blobs = blobs
	m.Details().Stream = idx
	m.Details().Files = []File{{Path: ".", Type: "dir", Mode: 0o755, Pieces: len(idx)}}
	return m
}

func blobNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
	}
	return out
}

// Issue 20: a repository of format version 2 gets version 2 manifests: the
// first stores a base set object, a small change a delta against it, a
// change larger than a quarter of the base a new base; each loads back to
// its own blob set, a blob no index holds standing for itself by prefix.
func TestSaveWritesBaseAndDelta(t *testing.T) {
	s, err := chunkstore.Init(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	common := blobNames("c", 40)
	steps := []struct {
		m       *Manifest
		newBase bool
	}{
		{v2Manifest(0, common...), true},
		{v2Manifest(1, append(slices.Clone(common[2:]), "n1", "n2", "n3")...), false}, // 5 changes ≤ 40/4
		{v2Manifest(2, append(slices.Clone(common[20:]), blobNames("z", 20)...)...), true},
	}
	var bases []chunkstore.ID
	for i, st := range steps {
		want := slices.Clone(st.m.Blobs)
		if err := Save(s, st.m); err != nil {
			t.Fatal(err)
		}
		m, err := Load(s, st.m.Name)
		if err != nil {
			t.Fatal(err)
		}
		if m.Version != Version2 {
			t.Fatalf("step %d: version %d", i, m.Version)
		}
		if st.newBase != !slices.Contains(bases, m.Base) {
			t.Errorf("step %d: new base %v, want %v", i, !slices.Contains(bases, m.Base), st.newBase)
		}
		bases = append(bases, m.Base)
		if st.newBase && (len(m.added) > 0 || len(m.removed) > 0) {
			t.Errorf("step %d: a new base with a delta", i)
		}
		for j, id := range m.Blobs {
			if !bytes.Equal(id[:16], want[j][:16]) || [16]byte(id[16:]) != [16]byte{} {
				t.Fatalf("step %d: blob %d is %s, want the prefix of %s and zeros (no index holds it)", i, j, id, want[j])
			}
		}
		if _, err := m.Open(s.Codec()); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	sets, err := os.ReadDir(s.Path(SetsDir))
	if err != nil || len(sets) != 2 {
		t.Fatalf("%d set objects (%v), want 2", len(sets), err)
	}
}

// Issue 20: a missing or altered set object fails the manifest that needs
// it closed, as corruption, naming the object.
func TestLoadNeedsItsSet(t *testing.T) {
	s, m := savedIn(t, chunkstore.FormatVersion)
	set := s.Path(SetName(m.Base))
	b, err := os.ReadFile(set)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(set, flip(b, len(b)-3), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(s, m.Name); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), SetName(m.Base)) {
		t.Errorf("altered set: %v; want ErrInvalid naming %s", err, SetName(m.Base))
	}
	if err := os.Remove(set); err != nil {
		t.Fatal(err)
	}
	_, err = Load(s, m.Name)
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, chunkstore.ErrMissing) || !strings.Contains(err.Error(), SetName(m.Base)) {
		t.Errorf("missing set: %v; want ErrInvalid and ErrMissing naming %s", err, SetName(m.Base))
	}
	list, damaged, err := ListValid(s)
	if err != nil || len(list) != 0 || len(damaged) != 1 {
		t.Errorf("ListValid: %d valid, %d damaged, %v", len(list), len(damaged), err)
	}
}

// Issue 20: a repository of format version 1 never gets a version 2
// manifest nor a set object.
func TestFormatV1KeepsManifestV1(t *testing.T) {
	s, m := savedIn(t, 1)
	got, err := Load(s, m.Name)
	if err != nil || got.Version != Version || got.Base != (chunkstore.ID{}) {
		t.Fatalf("Load: version %v base %v, %v", got.Version, got.Base, err)
	}
	if _, err := os.Stat(s.Path(SetsDir)); !os.IsNotExist(err) {
		t.Errorf("a format v1 repository has %s: %v", SetsDir, err)
	}
}

// savedIn returns a repository of the format version holding one saved
// manifest, and the manifest.
func savedIn(t *testing.T, version int) (*chunkstore.Store, *Manifest) {
	t.Helper()
	s, err := chunkstore.InitVersion(t.TempDir(), nil, chunkstore.DefaultChunking, version)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	m := v2Manifest(0, blobNames("a", 8)...)
	if err := Save(s, m); err != nil {
		t.Fatal(err)
	}
	return s, m
}

// Issue 20: a set that changes slowly gets a new base once the deltas
// stored against its base hold more prefixes than the base, though no
// single delta reaches a quarter of it: snapshot k replaces blob k of
// 100, so its delta holds 2k prefixes and the deltas 2+4+…+2k = k(k+1),
// which passes 100 at k = 10 (the quarter would wait until k = 13).
func TestNewBaseOnceTheDeltasCostTheBase(t *testing.T) {
	s, err := chunkstore.Init(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names := blobNames("b", 100)
	var first chunkstore.ID
	for k := range 11 {
		for i := range k {
			names[i] = fmt.Sprintf("new %d", i)
		}
		m := v2Manifest(k, names...)
		if err := Save(s, m); err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			first = m.Base
		}
		if got, want := m.Base != first, k == 10; got != want {
			t.Fatalf("snapshot %d (delta %d): new base %v, want %v", k, len(m.added)+len(m.removed), got, want)
		}
	}
}

// A file index entry whose piece count would overflow the range check is
// refused, not read past the stream.
func TestHostilePieceCountIsRefused(t *testing.T) {
	keys, codec := testKeys(), chunkstore.NewCodec(nil)
	m := testManifest()
	m.Details().Files[1].Pieces = math.MaxInt
	b, err := Encode(m, keys, codec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b, keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := got.Open(codec); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open: %v, want ErrInvalid", err)
	}
}
