package chunkstore

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/fsimage"
)

// flushAt sets indexFlushAt for one test, so that small indexes spill to
// tables and merge many times.
func flushAt(t testing.TB, n int) {
	old := indexFlushAt
	indexFlushAt = n
	t.Cleanup(func() { indexFlushAt = old })
}

// tableModel is what an index of packs must answer: the first pack that
// holds a blob is where it is read.
type tableModel struct {
	packs []PackInfo
	loc   map[ID]Location
}

// randomPacks returns n packs of random blobs, some of which share their
// first 8 or 16 bytes or repeat a blob of an earlier pack.
func randomPacks(seed uint64, n int) []PackInfo {
	r := rand.New(rand.NewPCG(seed, 1))
	randID := func() (id ID) {
		for i := range id {
			id[i] = byte(r.Uint32())
		}
		return id
	}
	var packs []PackInfo
	var all []ID
	for p := range n {
		info := PackInfo{ID: randID(), Size: int64(1000 + p)}
		for i := range 1 + r.IntN(40) {
			id := randID()
			switch k := r.IntN(20); {
			case k == 0 && len(all) > 0: // a blob of an earlier pack
				id = all[r.IntN(len(all))]
			case k == 1 && len(all) > 0: // the same 8-byte key
				copy(id[:8], all[r.IntN(len(all))][:8])
			case k == 2 && len(all) > 0: // the same public prefix
				copy(id[:PrefixSize], all[r.IntN(len(all))][:PrefixSize])
			}
			all = append(all, id)
			info.Blobs = append(info.Blobs, BlobEntry{ID: id, Offset: uint32(i * 100), Length: uint32(10 + i), RawLength: uint32(20 + i)})
		}
		packs = append(packs, info)
	}
	return packs
}

func modelOf(packs []PackInfo) tableModel {
	m := tableModel{packs: packs, loc: map[ID]Location{}}
	for _, p := range packs {
		for _, b := range p.Blobs {
			if _, ok := m.loc[b.ID]; !ok {
				m.loc[b.ID] = Location{Pack: p.ID, BlobEntry: b}
			}
		}
	}
	return m
}

// check compares every answer of ix with the model's, on every indexed
// blob, on random misses and on their public prefixes.
func (m tableModel) check(t *testing.T, ix *Index) {
	t.Helper()
	prefixes := map[[PrefixSize]byte]int{}
	for id := range m.loc {
		prefixes[[PrefixSize]byte(id[:PrefixSize])]++
	}
	for id, want := range m.loc {
		if got, ok := ix.Lookup(id); !ok || got != want {
			t.Fatalf("Lookup(%s) = %+v, %v; want %+v", id.Short(), got, ok, want)
		}
		prefix := [PrefixSize]byte(id[:PrefixSize])
		unique := prefixes[prefix] == 1
		if got, ok := ix.Resolve(prefix); ok != unique || ok && got != id {
			t.Fatalf("Resolve(%x) = %s, %v; want unique=%v", prefix, got.Short(), ok, unique)
		}
	}
	r := rand.New(rand.NewPCG(7, 7))
	for range 2000 {
		var id ID
		for i := range id {
			id[i] = byte(r.Uint32())
		}
		if _, ok := m.loc[id]; ok {
			continue
		}
		if ix.Has(id) {
			t.Fatalf("Has(%s) of a blob never added", id.Short())
		}
		if _, ok := ix.Resolve([PrefixSize]byte(id[:PrefixSize])); ok {
			t.Fatalf("Resolve of a random prefix %x found a blob", id[:PrefixSize])
		}
	}
	got := ix.Packs()
	if len(got) != len(m.packs) {
		t.Fatalf("%d packs, want %d", len(got), len(m.packs))
	}
	for i, p := range m.packs {
		q, ok := ix.Pack(p.ID)
		if !ok || q.Size != p.Size || !slices.Equal(q.Blobs, p.Blobs) || !slices.Equal(got[i].Blobs, p.Blobs) || got[i].ID != p.ID {
			t.Fatalf("pack %d (%s) reads back as %+v", i, p.ID.Short(), q)
		}
	}
}

// inMemory returns how many blobs the index holds in memory.
func (ix *Index) inMemory() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.blobs) + len(ix.more)
}

// buildLog appends packs to a log and an index, as a backup does.
func buildLog(t testing.TB, l *indexLog, packs []PackInfo) *Index {
	t.Helper()
	ix, _, err := l.load(func(ID) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range packs {
		if err := l.append(p); err != nil {
			t.Fatal(err)
		}
		ix.add(p)
	}
	return ix
}

func tableLog(dir string) *indexLog {
	return &indexLog{path: filepath.Join(dir, "index"), table: filepath.Join(dir, "index.table")}
}

// Issue 20, the device index: lookups in the on-disk table and the packs
// in memory answer as a map of every blob does, on hits, misses, shared
// prefixes and blobs stored twice, while memory holds fewer blobs than
// the flush threshold; and again after the index is loaded from disk.
func TestIndexTableMatchesMap(t *testing.T) {
	flushAt(t, 97)
	l := tableLog(t.TempDir())
	packs := randomPacks(1, 120)
	m := modelOf(packs)
	ix := buildLog(t, l, packs)
	m.check(t, ix)
	if ix.tab == nil || ix.tab.nrec < len(m.loc)-97 || ix.inMemory() >= 97 {
		t.Fatalf("the index did not spill: table %v, %d blobs in memory", ix.tab != nil, ix.inMemory())
	}
	loaded, st, err := l.load(func(ID) bool { return true })
	if err != nil || st != (logState{}) || l.dirty {
		t.Fatalf("load: %v, %+v, dirty %v", err, st, l.dirty)
	}
	m.check(t, loaded)
	if loaded.inMemory() >= 97 {
		t.Fatalf("loading put %d blobs in memory", loaded.inMemory())
	}
}

// Issue 20, the device index stays a rebuildable cache: a table that is
// deleted, damaged anywhere, cut short or replaced by garbage is ignored
// and rebuilt from the log; one that names a pack no longer stored is
// too, so that a blob of that pack stored again later is found where it
// is.
func TestIndexTableRebuiltAfterDamage(t *testing.T) {
	flushAt(t, 50)
	packs := randomPacks(2, 40)
	damages := map[string]func(b []byte) []byte{
		"deleted":   nil,
		"header":    func(b []byte) []byte { b[9] ^= 1; return b },
		"record":    func(b []byte) []byte { b[tablePage+100] ^= 0x40; return b },
		"directory": func(b []byte) []byte { b[len(b)-20] ^= 2; return b },
		"cut":       func(b []byte) []byte { return b[:len(b)-tablePage] },
		"garbage":   func(b []byte) []byte { return []byte("not a table at all") },
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			l := tableLog(t.TempDir())
			buildLog(t, l, packs).close()
			b := readOrFatal(t, l.table)
			if damage == nil {
				os.Remove(l.table)
			} else {
				writeOrFatal(t, l.table, damage(b))
			}
			ix, _, err := l.load(func(ID) bool { return true })
			if err != nil {
				t.Fatal(err)
			}
			modelOf(packs).check(t, ix)
			ix.close()
			if _, err := openTable(l.table); err != nil {
				t.Fatalf("the rebuilt table: %v", err)
			}
		})
	}
	t.Run("pack gone", func(t *testing.T) {
		l := tableLog(t.TempDir())
		// The last pack repeats a blob of the first, whose file is then
		// deleted: its blob must be found in the last one.
		again := packs[len(packs)-1]
		again.Blobs = append(slices.Clone(again.Blobs), packs[0].Blobs[0])
		all := append(slices.Clone(packs[:len(packs)-1]), again)
		buildLog(t, l, all).close()
		ix, st, err := l.load(func(id ID) bool { return id != packs[0].ID })
		if err != nil || st.gone != 1 || !l.dirty {
			t.Fatalf("load: %v, %+v", err, st)
		}
		modelOf(all[1:]).check(t, ix)
	})
}

// Issue 20: a writer killed (SIGKILL) at any moment while it appends to
// the log and merges tables leaves an index that loads, and names every
// pack the log holds at the right place: the table is replaced atomically
// and is only ever a cache of the log.
func TestIndexTableSurvivesKill(t *testing.T) {
	if dir := os.Getenv("POCKETSNAP_TABLE_KILL_DIR"); dir != "" {
		flushAt(t, 64)
		l := tableLog(dir)
		seed, _ := strconv.ParseUint(os.Getenv("POCKETSNAP_TABLE_KILL_SEED"), 10, 64)
		ix := buildLog(t, l, nil)
		for _, p := range randomPacks(seed, 5000) {
			if err := l.append(p); err != nil {
				t.Fatal(err)
			}
			ix.add(p)
		}
		return
	}
	for i := range 6 {
		dir := t.TempDir()
		seed := uint64(10 + i)
		cmd := exec.Command(os.Args[0], "-test.run=^TestIndexTableSurvivesKill$")
		cmd.Env = append(os.Environ(), "POCKETSNAP_TABLE_KILL_DIR="+dir, fmt.Sprint("POCKETSNAP_TABLE_KILL_SEED=", seed))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Once it has written its first table, kill it a little later
		// each run.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if _, err := os.Stat(filepath.Join(dir, "index.table")); err == nil {
				break
			}
		}
		time.Sleep(time.Duration(i*i*20) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()

		l := tableLog(dir)
		logged, _, _ := parseLog(readOrNil(t, l.path))
		ix, _, err := l.load(func(ID) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		if len(logged) == 0 {
			t.Fatalf("run %d: killed before it logged anything", i)
		}
		// The packs are the seeded sequence's first ones.
		want := randomPacks(seed, len(logged))
		for j := range logged {
			if logged[j].ID != want[j].ID {
				t.Fatalf("run %d: log record %d is not the pack written", i, j)
			}
		}
		modelOf(want).check(t, ix)
		t.Logf("run %d: killed after %d packs, table of %d blobs", i, len(logged), ix.tab.nrecOrZero())
		ix.close()
	}
}

func (t *table) nrecOrZero() int {
	if t == nil {
		return 0
	}
	return t.nrec
}

// Issue 20: the table works on the file systems of an SD card, which
// have no sparse files and rename differently.
func TestIndexTableOnSDCard(t *testing.T) {
	for _, kind := range []fsimage.Kind{fsimage.VFAT, fsimage.ExFAT} {
		t.Run(string(kind), func(t *testing.T) {
			flushAt(t, 29)
			dir := fsimage.Mount(t, kind, 64<<20)
			l := tableLog(dir)
			// The log stays under 90 KB: past that, fusefat (the FAT
			// driver of machines without loop devices) loses appends.
			packs := randomPacks(3, 40)
			ix := buildLog(t, l, packs)
			modelOf(packs).check(t, ix)
			ix.close()
			loaded, st, err := l.load(func(ID) bool { return true })
			if err != nil || st != (logState{}) {
				t.Fatalf("load: %v, %+v", err, st)
			}
			modelOf(packs).check(t, loaded)
			if loaded.tab == nil || loaded.tab.nrec == 0 {
				t.Fatal("no table was written on the card")
			}
			loaded.close()
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if IsTemp(e.Name()) {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

// BenchmarkIndexHas measures a lookup of a blob among 200,000, as a
// backup's deduplication makes one per chunk: in the table (hits and
// misses) and, for comparison, with the whole index in memory.
func BenchmarkIndexHas(b *testing.B) {
	packs := randomPacks(5, 10000)
	for _, c := range []struct {
		name  string
		flush int
		hit   bool
	}{{"table/hit", 1 << 15, true}, {"table/miss", 1 << 15, false}, {"memory/hit", 1 << 30, true}, {"memory/miss", 1 << 30, false}} {
		b.Run(c.name, func(b *testing.B) {
			flushAt(b, c.flush)
			l := tableLog(b.TempDir())
			ix := newIndex()
			ix.spill = l.table
			var ids []ID
			for _, p := range packs {
				ix.add(p)
				for _, e := range p.Blobs {
					id := e.ID
					if !c.hit {
						id[31] ^= 0xff
					}
					ids = append(ids, id)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				if ix.Has(ids[i%len(ids)]) != c.hit {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}

// Issue 20: usage measured one pack at a time, with the index in its
// table, is what measuring every pack in memory gives (the reference
// below is how it was measured before): live blobs stored in several
// packs count in the last one, and live blobs not indexed are counted.
func TestUsageFromTableMatchesReference(t *testing.T) {
	flushAt(t, 61)
	packs := randomPacks(4, 80)
	r := rand.New(rand.NewPCG(4, 4))
	live := mapSet{}
	for _, p := range packs {
		for _, b := range p.Blobs {
			if r.IntN(3) > 0 {
				live[b.ID] = struct{}{}
			}
		}
	}
	live[ID{0xee}] = struct{}{} // not indexed
	files := []ObjectInfo{{ID: packs[0].ID, Size: 1}, {ID: ID{0x0f}, Size: 9}}
	for _, dups := range []bool{true, false} {
		ps := packs
		if !dups { // no blob stored twice: the fast path
			ps = nil
			seen := map[ID]bool{}
			for _, p := range packs {
				p.Blobs = slices.DeleteFunc(slices.Clone(p.Blobs), func(b BlobEntry) bool {
					stored := seen[b.ID]
					seen[b.ID] = true
					return stored
				})
				ps = append(ps, p)
			}
		}
		ix := buildLog(t, tableLog(t.TempDir()), ps)
		got, err := measureUsage(ix, files, live)
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceUsage(ps, files, live); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("duplicates %v: usage\n%+v\nwant\n%+v", dups, got, want)
		}
		ix.close()
	}
}

func referenceUsage(packs []PackInfo, files []ObjectInfo, live mapSet) *Usage {
	owner := make(map[ID]int, len(live))
	for i, p := range packs {
		for _, b := range p.Blobs {
			if _, ok := live[b.ID]; ok {
				owner[b.ID] = i
			}
		}
	}
	u := &Usage{Packs: make([]PackUsage, len(packs)), Unindexed: len(live) - len(owner)}
	indexed := make(map[ID]bool, len(packs))
	for i, p := range packs {
		indexed[p.ID] = true
		pu := PackUsage{ID: p.ID, Size: p.Size, Blobs: len(p.Blobs)}
		for _, b := range p.Blobs {
			pu.Bytes += int64(b.Length)
			if o, ok := owner[b.ID]; ok && o == i {
				pu.LiveBlobs++
				pu.LiveBytes += int64(b.Length)
			}
		}
		u.Packs[i] = pu
	}
	for _, f := range files {
		if !indexed[f.ID] {
			u.Orphans = append(u.Orphans, f)
		}
	}
	return u
}

// BenchmarkIndexLoad measures what every command pays to open the device
// index of about 170,000 blobs (the 4 GiB bench tree's): the log's scan
// and the table's check, or, with no table, the log read into memory.
func BenchmarkIndexLoad(b *testing.B) {
	packs := randomPacks(6, 8500)
	for _, c := range []struct {
		name  string
		flush int
	}{{"table", 1 << 15}, {"memory", 1 << 30}} {
		b.Run(c.name, func(b *testing.B) {
			flushAt(b, c.flush)
			l := tableLog(b.TempDir())
			if c.flush > len(packs)*40 {
				l.table = ""
			}
			buildLog(b, l, packs).close()
			b.ResetTimer()
			for range b.N {
				ix, _, err := l.load(func(ID) bool { return true })
				if err != nil {
					b.Fatal(err)
				}
				ix.close()
			}
		})
	}
}
