package chunkstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"filippo.io/age"
)

// indexDamages are the ways issue 17.3 damages local/index, and whether a
// reader reports each (a log cut at a record's boundary looks like one
// that a crash left before an append: its packs are indexed from their
// tables without a word).
var indexDamages = []struct {
	name   string
	damage func(t *testing.T, path string)
	warns  bool
}{
	{"bit flip", func(t *testing.T, p string) {
		b := readOrFatal(t, p)
		b[len(b)/2] ^= 0x10
		writeOrFatal(t, p, b)
	}, true},
	{"truncated mid-record", func(t *testing.T, p string) {
		b := readOrFatal(t, p)
		writeOrFatal(t, p, b[:len(b)/2+1])
	}, true},
	{"truncated at a record", func(t *testing.T, p string) {
		b := readOrFatal(t, p)
		writeOrFatal(t, p, b[:8+int(binary.LittleEndian.Uint32(b))])
	}, false},
	{"emptied", func(t *testing.T, p string) { writeOrFatal(t, p, nil) }, true},
	{"deleted", func(t *testing.T, p string) {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}, true},
}

func readOrFatal(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeOrFatal(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// readOrNil returns a file's bytes, or nil when it does not exist.
func readOrNil(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return b
}

// storeVersion is gcStore in a given format version.
func storeVersion(t *testing.T, version int) (*Store, *age.X25519Identity) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	s, err := InitVersion(t.TempDir(), []string{id.Recipient().String()}, DefaultChunking, version)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, id
}

// openDevice opens the repository as the phone does: no identity, warnings
// collected.
func openDevice(t *testing.T, dir string) (*Store, *[]string) {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var warnings []string
	s.SetWarn(func(msg string) { warnings = append(warnings, msg) })
	return s, &warnings
}

// Issue 17.3: in a version 2 repository, whatever happens to local/index,
// a reading command on the device (no identity) leaves the file as it is,
// says so once, and finds every blob from the packs' sealed tables; the
// blobs read back intact with the identity; the next writer rewrites the
// log whole, and later commands find nothing wrong.
func TestDamagedIndexIsACacheV2(t *testing.T) {
	for _, d := range indexDamages {
		t.Run(d.name, func(t *testing.T) {
			s, id := storeVersion(t, 2)
			var ids []ID
			for i := range 3 {
				ids = append(ids, writePack(t, s, ClassBody, 2*i, 2*i+1)...)
			}
			path := s.Path(localIndex)
			d.damage(t, path)
			before := readOrNil(t, path)

			dev, warnings := openDevice(t, s.Dir())
			ix, err := dev.Index()
			if err != nil {
				t.Fatalf("reader: %v", err)
			}
			for _, b := range ids {
				if !ix.Has(b) {
					t.Fatalf("blob %s not found after the damage", b.Short())
				}
			}
			if after := readOrNil(t, path); !bytes.Equal(after, before) {
				t.Fatal("a reader changed local/index")
			}
			if got := len(*warnings); got != map[bool]int{true: 1, false: 0}[d.warns] {
				t.Fatalf("%d warnings: %q", got, *warnings)
			}
			if d.warns && !strings.Contains((*warnings)[0], "repair index") {
				t.Errorf("warning gives no way out: %s", (*warnings)[0])
			}
			dev.SetIdentities([]age.Identity{id})
			for i, b := range ids {
				if got, err := dev.ReadBlob(b, nil); err != nil || !bytes.Equal(got, blob(i)) {
					t.Fatalf("blob %d: %v", i, err)
				}
			}

			// A writer on the device rewrites the log before it appends.
			writer, _ := openDevice(t, s.Dir())
			more := writePack(t, writer, ClassBody, 100)
			packs, valid, skipped := parseLog(readOrFatal(t, path))
			if skipped != 0 || valid != len(readOrFatal(t, path)) || len(packs) != 4 {
				t.Fatalf("after a backup the log has %d packs, %d skipped, %d of %d bytes valid", len(packs), skipped, valid, len(readOrFatal(t, path)))
			}
			later, warnings := openDevice(t, s.Dir())
			ix, err = later.Index()
			if err != nil || len(*warnings) != 0 || !ix.Has(more[0]) || !ix.Has(ids[0]) {
				t.Fatalf("after the rewrite: %v, warnings %q", err, *warnings)
			}
		})
	}
}

// Issue 17.3: 'repair index' rebuilds a version 2 index on the device,
// without the identity, from the packs' sealed tables.
func TestRepairIndexV2WithoutIdentity(t *testing.T) {
	s, _ := storeVersion(t, 2)
	a := writePack(t, s, ClassBody, 1, 2)
	b := writePack(t, s, ClassChunk, 3)
	want := readOrFatal(t, s.Path(localIndex))
	indexDamages[0].damage(t, s.Path(localIndex))

	dev, _ := openDevice(t, s.Dir())
	st, err := dev.RepairIndex()
	if err != nil {
		t.Fatal(err)
	}
	if st.Packs != 2 || st.Blobs != 3 || len(st.Damaged) != 0 {
		t.Fatalf("repair: %+v", st)
	}
	packs, _, skipped := parseLog(readOrFatal(t, s.Path(localIndex)))
	wantPacks, _, _ := parseLog(want)
	if skipped != 0 || len(packs) != 2 || !sameLocations(indexOf(packs), indexOf(wantPacks), a[0], a[1], b[0]) {
		t.Fatalf("rebuilt log: %d packs, %d skipped", len(packs), skipped)
	}
}

// sameLocations reports whether both indexes place the blobs alike.
func sameLocations(x, y *Index, ids ...ID) bool {
	for _, id := range ids {
		lx, okx := x.Lookup(id)
		ly, oky := y.Lookup(id)
		if !okx || !oky || lx != ly {
			return false
		}
	}
	return true
}

// Issue 17.3: a version 1 repository's packs list their blobs only inside
// the encryption: with its index damaged or gone, the device says that
// the identity is needed and how to use it, for readers and writers
// alike, and changes nothing; with the identity, the index is rebuilt.
func TestDamagedIndexV1NeedsIdentity(t *testing.T) {
	for _, d := range []int{0, 4} { // bit flip, deleted
		t.Run(indexDamages[d].name, func(t *testing.T) {
			s, id := storeVersion(t, 1)
			ids := writePack(t, s, ClassBody, 1, 2)
			writePack(t, s, ClassBody, 3)
			path := s.Path(localIndex)
			indexDamages[d].damage(t, path)
			before := readOrNil(t, path)

			dev, _ := openDevice(t, s.Dir())
			_, err := dev.Index()
			var ie *IndexError
			if !errors.As(err, &ie) || !errors.Is(err, ErrNoIdentity) {
				t.Fatalf("reader: %v, want an IndexError", err)
			}
			for _, want := range []string{"version 1", "needs the age identity", "BACKUP_AGE_IDENTITY", "pocketsnap repair index"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message does not say %q: %v", want, err)
				}
			}
			if _, err := dev.NewWriter(); !errors.As(err, &ie) {
				t.Fatalf("writer: %v, want an IndexError", err)
			}
			if _, err := dev.RepairIndex(); !errors.As(err, &ie) {
				t.Fatalf("repair without the identity: %v, want an IndexError", err)
			}
			if after := readOrNil(t, path); !bytes.Equal(after, before) {
				t.Fatal("local/index changed")
			}

			dev.SetIdentities([]age.Identity{id})
			if st, err := dev.RepairIndex(); err != nil || st.Packs != 2 {
				t.Fatalf("repair with the identity: %+v, %v", st, err)
			}
			later, warnings := openDevice(t, s.Dir())
			if ix, err := later.Index(); err != nil || !ix.Has(ids[1]) || len(*warnings) != 0 {
				t.Fatalf("after the repair: %v, %q", err, *warnings)
			}
		})
	}
}

// Issue 17.3: without local/index and local/keys, only the identity can
// help, and the message says so.
func TestIndexWithoutDeviceKeysNeedsIdentity(t *testing.T) {
	s, _ := storeVersion(t, 2)
	writePack(t, s, ClassBody, 1)
	for _, p := range []string{localIndex, KeysName} {
		if err := os.Remove(s.Path(p)); err != nil {
			t.Fatal(err)
		}
	}
	dev, _ := openDevice(t, s.Dir())
	_, err := dev.Index()
	var ie *IndexError
	if !errors.As(err, &ie) {
		t.Fatalf("%v, want an IndexError", err)
	}
	for _, want := range []string{KeysName, "identity", "init --from-remote"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message does not say %q: %v", want, err)
		}
	}
}

// Issue 17.3: a stray or damaged file among the packs costs its own blobs
// only: it is named, and the other packs are indexed.
func TestIndexLeavesOutAPackWithoutTable(t *testing.T) {
	s, _ := storeVersion(t, 2)
	a := writePack(t, s, ClassBody, 1)
	junk := writeOrphan(t, s)
	if err := os.Remove(s.Path(localIndex)); err != nil {
		t.Fatal(err)
	}
	dev, warnings := openDevice(t, s.Dir())
	ix, err := dev.Index()
	if err != nil || !ix.Has(a[0]) {
		t.Fatalf("%v", err)
	}
	if len(*warnings) != 2 || !strings.Contains((*warnings)[1], PackName(junk.ID)) {
		t.Fatalf("warnings %q do not name %s", *warnings, PackName(junk.ID))
	}
	st, err := dev.RepairIndex()
	if err != nil || st.Packs != 1 || len(st.Damaged) != 1 || st.Damaged[0] != junk.ID {
		t.Fatalf("repair: %+v, %v", st, err)
	}
}

// Version 2 packs: the sealed table opens only under the repository's
// keys, and any change to it or its locator is refused.
func TestSealedTableIsAuthenticated(t *testing.T) {
	s, _ := storeVersion(t, 2)
	writePack(t, s, ClassBody, 1, 2)
	packs, err := s.ListPacks()
	if err != nil {
		t.Fatal(err)
	}
	raw := readOrFatal(t, s.packPath(packs[0].ID))
	tk, err := s.packTableKeys()
	if err != nil {
		t.Fatal(err)
	}
	entries, payload, err := tk.open(bytes.NewReader(raw), int64(len(raw)))
	if err != nil || len(entries) != 2 || payload >= int64(len(raw)) {
		t.Fatalf("open: %d entries, payload %d of %d, %v", len(entries), payload, len(raw), err)
	}
	other, _ := storeVersion(t, 2)
	otk, err := other.packTableKeys()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := otk.open(bytes.NewReader(raw), int64(len(raw))); !errors.Is(err, errNoTable) {
		t.Errorf("another repository's keys: %v", err)
	}
	for _, at := range []int{len(raw) - 1, len(raw) - tableLocator, len(raw) - tableLocator - 1, int(payload)} {
		b := bytes.Clone(raw)
		b[at] ^= 1
		if _, _, err := tk.open(bytes.NewReader(b), int64(len(b))); err == nil {
			t.Errorf("a flipped bit at %d of %d accepted", at, len(b))
		}
	}
	if _, _, err := tk.open(bytes.NewReader(raw[:len(raw)-1]), int64(len(raw)-1)); err == nil {
		t.Error("a truncated pack accepted")
	}
}
