package chunkstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/age"
)

// gcStore is an encrypted store whose identity is at hand.
func gcStore(t *testing.T) *Store {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Init(t.TempDir(), []string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	s.SetIdentities([]age.Identity{id})
	t.Cleanup(func() { s.Close() })
	return s
}

func blob(n int) []byte { return bytes.Repeat([]byte(fmt.Sprintf("blob %d ", n)), 100+n) }

// writePack stores the blobs numbered ns, of class c, in one new pack
// (also when they are stored already) and returns their IDs.
func writePack(t *testing.T, s *Store, c Class, ns ...int) []ID {
	t.Helper()
	keys, w := newTestWriter(t, s)
	w.index = newIndex()
	var ids []ID
	for _, n := range ns {
		b := blob(n)
		id := keys.BlobID(b)
		if _, err := w.Add(context.Background(), c, id, s.Compress(nil, b), len(b)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ids
}

// newTestWriter returns the store's keys and a new Writer.
func newTestWriter(t testing.TB, s *Store) (*Keys, *Writer) {
	t.Helper()
	keys, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	return keys, w
}

// mapSet is a [BlobSet] held as a map: the reference the tests measure
// against.
type mapSet map[ID]struct{}

func (m mapSet) Has(id ID) bool { _, ok := m[id]; return ok }

func (m mapSet) All() iter.Seq[ID] { return maps.Keys(m) }

func setOf(ids ...ID) mapSet {
	m := mapSet{}
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}

func packIDs(objs []ObjectInfo) []ID {
	var out []ID
	for _, o := range objs {
		out = append(out, o.ID)
	}
	slices.SortFunc(out, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// writeOrphan puts a file where a pack goes, without an index record, as a
// backup killed between the rename and the index append leaves it.
func writeOrphan(t *testing.T, s *Store) ObjectInfo {
	t.Helper()
	data := []byte("an orphaned pack")
	id := ID(sha256.Sum256(data))
	os.MkdirAll(filepath.Dir(s.packPath(id)), 0o700)
	if err := os.WriteFile(s.packPath(id), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return ObjectInfo{ID: id, Size: int64(len(data))}
}

func TestUsageAndDropPacks(t *testing.T) {
	s := gcStore(t)
	a := writePack(t, s, ClassBody, 1, 2)
	b := writePack(t, s, ClassBody, 3, 4, 5, 6)
	writePack(t, s, ClassMeta, 7)
	orphan := writeOrphan(t, s)

	live := setOf(a[0], b[0])
	u, err := s.Usage(live)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Packs) != 3 || len(u.Orphans) != 1 || u.Orphans[0] != orphan || u.Unindexed != 0 {
		t.Fatalf("usage %+v", u)
	}
	pa, pb, pc := u.Packs[0], u.Packs[1], u.Packs[2]
	if pa.LiveBlobs != 1 || pb.LiveBlobs != 1 || pc.LiveBlobs != 0 || pa.Blobs != 2 || pb.Blobs != 4 {
		t.Fatalf("live blobs: %+v", u.Packs)
	}
	if share := pb.DeadShare(); share < 0.6 || share > 0.9 {
		t.Errorf("dead share of a pack with 3 of 4 similar blobs dead: %.2f", share)
	}
	if got := u.PartlyDead(0.6); len(got) != 1 || got[0].ID != pb.ID {
		t.Errorf("PartlyDead(0.6) = %+v, want pack b only", got)
	}
	garbage := u.Garbage()
	if want := packIDs([]ObjectInfo{{ID: pc.ID}, orphan}); !slices.Equal(packIDs(garbage), want) {
		t.Fatalf("garbage %v, want %v", packIDs(garbage), want)
	}
	if err := s.DropPacks(packIDs(garbage)); err != nil {
		t.Fatal(err)
	}
	if s.HasPack(pc.ID) || s.HasPack(orphan.ID) {
		t.Error("dropped pack files remain")
	}
	// A fresh process sees the same: the index names exactly a and b.
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.SetIdentities(s.codec.identities)
	ix, _ := s2.Index()
	if got := len(ix.Packs()); got != 2 {
		t.Fatalf("index holds %d packs after the drop, want 2", got)
	}
	for i, id := range append(a, b...) {
		if got, err := s2.ReadBlob(id, nil); err != nil || !bytes.Equal(got, blob([]int{1, 2, 3, 4, 5, 6}[i])) {
			t.Errorf("blob %d: %v", i, err)
		}
	}
}

// A live blob missing from the index (a damaged index) may be in an
// orphan: orphans are then not garbage.
func TestOrphansKeptWhileLiveBlobsAreUnindexed(t *testing.T) {
	s := gcStore(t)
	a := writePack(t, s, ClassBody, 1)
	writeOrphan(t, s)
	u, err := s.Usage(setOf(a[0], ID{0xff}))
	if err != nil {
		t.Fatal(err)
	}
	if u.Unindexed != 1 || len(u.Orphans) != 1 || len(u.Garbage()) != 0 {
		t.Fatalf("usage %+v, garbage %v", u, u.Garbage())
	}
}

// A crash after the index was rewritten but before the files were deleted
// leaves unindexed packs, which the next collection finds and deletes: as
// orphans in version 1; in version 2 the load indexes them again from
// their sealed tables, and they are dead.
func TestDropPacksInterruptedLeavesOrphans(t *testing.T) {
	s := gcStore(t)
	a := writePack(t, s, ClassBody, 1)
	writePack(t, s, ClassBody, 2)
	ix, _ := s.Index()
	packs := ix.Packs()
	if err := s.log.rewrite(packs[:1]); err != nil { // the first step only
		t.Fatal(err)
	}
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	u, err := s2.Usage(setOf(a[0]))
	if err != nil {
		t.Fatal(err)
	}
	if g := u.Garbage(); len(g) != 1 || g[0].ID != packs[1].ID {
		t.Fatalf("garbage %+v, want pack %s", g, packs[1].ID.Short())
	}
	if err := s2.DropPacks(packIDs(u.Garbage())); err != nil {
		t.Fatal(err)
	}
	if s2.HasPack(packs[1].ID) || !s2.HasPack(packs[0].ID) {
		t.Error("wrong pack deleted")
	}
}

// A live blob stored twice counts in the newer pack: the older copy is
// dead, and dropping it keeps the blob readable.
func TestUsageCountsDuplicatesInNewestPack(t *testing.T) {
	s := gcStore(t)
	old := writePack(t, s, ClassBody, 1, 2)
	writePack(t, s, ClassBody, 1)
	u, err := s.Usage(setOf(old[0]))
	if err != nil {
		t.Fatal(err)
	}
	if u.Packs[0].LiveBlobs != 0 || u.Packs[1].LiveBlobs != 1 {
		t.Fatalf("usage %+v", u.Packs)
	}
	if err := s.DropPacks(packIDs(u.Garbage())); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadBlob(old[0], nil); err != nil || !bytes.Equal(got, blob(1)) {
		t.Fatalf("blob lost: %v", err)
	}
}

func TestRemoveFile(t *testing.T) {
	s := gcStore(t)
	if err := s.WriteFile("snapshots/x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time it is gone already
		if err := s.RemoveFile("snapshots/x"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(s.Path("snapshots/x")); !os.IsNotExist(err) {
		t.Errorf("file remains: %v", err)
	}
}
