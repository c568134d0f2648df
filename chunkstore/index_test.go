package chunkstore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestIndexLogSurvivesTornAppend(t *testing.T) {
	dir := t.TempDir()
	l := &indexLog{path: filepath.Join(dir, "index")}
	a := PackInfo{ID: ID{0xa}, Size: 100, Blobs: testEntries()}
	b := PackInfo{ID: ID{0xb}, Size: 50, Blobs: []BlobEntry{{ID: ID{3}, Offset: 0, Length: 7, RawLength: 9}}}
	c := PackInfo{ID: ID{0xc}, Size: 10, Blobs: []BlobEntry{{ID: ID{4}, Offset: 0, Length: 1, RawLength: 1}}}
	for _, p := range []PackInfo{a, b, c} {
		if err := l.append(p); err != nil {
			t.Fatal(err)
		}
	}
	// A crash in the middle of appending c: its record is cut short.
	raw, _ := os.ReadFile(l.path)
	full := len(raw)
	os.WriteFile(l.path, raw[:full-5], 0o600)

	exists := func(id ID) bool { return id != b.ID } // b's pack is gone
	before, _ := os.ReadFile(l.path)
	ix, st, err := l.load(exists)
	if err != nil {
		t.Fatal(err)
	}
	// Issue 17.3: loading never writes; a writer cuts the log.
	if after, _ := os.ReadFile(l.path); string(after) != string(before) {
		t.Error("load changed the log")
	}
	if !st.torn || st.gone != 1 || st.skipped != 0 || st.describe(3) != "" {
		t.Errorf("load found %+v", st)
	}
	if _, ok := ix.Lookup(ID{1}); !ok {
		t.Error("blob of pack a lost")
	}
	if ix.Has(ID{3}) {
		t.Error("blob of the missing pack b still indexed")
	}
	if ix.Has(ID{4}) {
		t.Error("blob of the torn record c indexed")
	}
	// A writer rewrites the log without the torn tail and the missing
	// pack, so appends continue cleanly.
	if err := l.save(ix); err != nil {
		t.Fatal(err)
	}
	if err := l.append(c); err != nil {
		t.Fatal(err)
	}
	ix, _, err = l.load(func(ID) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Packs()) != 2 || !ix.Has(ID{4}) || ix.Has(ID{3}) {
		t.Fatalf("after rewrite and append: %d packs", len(ix.Packs()))
	}
}

func TestLockIsExclusiveAndReleasedOnClose(t *testing.T) {
	dir := t.TempDir()
	l, err := lockRepo(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockRepo(dir, false)
	le, ok := err.(*LockedError)
	if !ok || le.Holder.PID != os.Getpid() {
		t.Fatalf("second lock: %v", err)
	}
	l.Unlock()
	r1, err := lockRepo(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := lockRepo(dir, false)
	if err != nil {
		t.Fatalf("shared locks conflict: %v", err)
	}
	if _, err := lockRepo(dir, true); err == nil {
		t.Fatal("exclusive lock granted while shared ones are held")
	}
	r1.Unlock()
	r2.Unlock()
}

// A corrupt record in the middle of the log (bit rot) costs only that
// record, not every record after it.
func TestIndexLogSkipsCorruptRecord(t *testing.T) {
	l := &indexLog{path: filepath.Join(t.TempDir(), "index")}
	packs := []PackInfo{
		{ID: ID{0xa}, Size: 1, Blobs: []BlobEntry{{ID: ID{1}, Length: 1, RawLength: 1}}},
		{ID: ID{0xb}, Size: 1, Blobs: []BlobEntry{{ID: ID{2}, Length: 1, RawLength: 1}}},
		{ID: ID{0xc}, Size: 1, Blobs: []BlobEntry{{ID: ID{3}, Length: 1, RawLength: 1}}},
	}
	for _, p := range packs {
		if err := l.append(p); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(l.path)
	rec := len(appendRecord(nil, packs[0]))
	raw[rec+10] ^= 0xff // inside the second record's payload
	os.WriteFile(l.path, raw, 0o600)
	ix, st, err := l.load(func(ID) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if st.skipped != 1 || st.describe(3) == "" {
		t.Errorf("load found %+v", st)
	}
	if !ix.Has(ID{1}) || ix.Has(ID{2}) || !ix.Has(ID{3}) {
		t.Fatalf("after a corrupt middle record: has 1=%v 2=%v 3=%v", ix.Has(ID{1}), ix.Has(ID{2}), ix.Has(ID{3}))
	}
}

// The index keys blobs by the first 8 bytes of their ID; blobs that share
// them must still be told apart, and a blob in two packs is read from the
// first.
func TestIndexTellsApartSharedPrefixes(t *testing.T) {
	id := func(first, last byte) ID {
		var id ID
		id[0], id[IDSize-1] = first, last
		return id
	}
	ix := newIndex()
	ix.add(PackInfo{ID: ID{0xA}, Blobs: []BlobEntry{
		{ID: id(1, 1), Offset: 0, Length: 1}, {ID: id(1, 2), Offset: 1, Length: 2}, {ID: id(2, 0), Offset: 3, Length: 3},
	}})
	ix.add(PackInfo{ID: ID{0xB}, Blobs: []BlobEntry{
		{ID: id(1, 3), Offset: 0, Length: 4}, {ID: id(1, 2), Offset: 4, Length: 5},
	}})
	for _, want := range []Location{
		{Pack: ID{0xA}, BlobEntry: BlobEntry{ID: id(1, 1), Offset: 0, Length: 1}},
		{Pack: ID{0xA}, BlobEntry: BlobEntry{ID: id(1, 2), Offset: 1, Length: 2}},
		{Pack: ID{0xA}, BlobEntry: BlobEntry{ID: id(2, 0), Offset: 3, Length: 3}},
		{Pack: ID{0xB}, BlobEntry: BlobEntry{ID: id(1, 3), Offset: 0, Length: 4}},
	} {
		if got, ok := ix.Lookup(want.ID); !ok || got != want || !ix.Has(want.ID) {
			t.Errorf("Lookup(%x…%x) = %+v, %v; want %+v", want.ID[0], want.ID[IDSize-1], got, ok, want)
		}
	}
	for _, missing := range []ID{id(1, 4), id(2, 1), id(3, 0)} {
		if _, ok := ix.Lookup(missing); ok || ix.Has(missing) {
			t.Errorf("blob %x…%x found, but it is not indexed", missing[0], missing[IDSize-1])
		}
	}
}

// parseLog decodes a whole log in memory, as scanLog reads it.
func parseLog(b []byte) (packs []PackInfo, valid, skipped int) {
	v, skipped, err := scanLog(bytes.NewReader(b), int64(len(b)), func(_ int64, b []byte) {
		p, _ := parsePayload(b)
		packs = append(packs, p)
	})
	if err != nil {
		panic(err)
	}
	return packs, int(v), skipped
}
