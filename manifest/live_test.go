package manifest

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// referenceLive is how the live set was computed before Issue 20: a map
// of every blob of every manifest.
func referenceLive(list []*Manifest) map[chunkstore.ID]struct{} {
	set := map[chunkstore.ID]struct{}{}
	for _, m := range list {
		for _, id := range m.Blobs {
			set[id] = struct{}{}
		}
	}
	return set
}

// randomRepository returns manifests over a shared pool of blobs, as
// garbage collection sees them once loaded: version 1 lists, version 2
// sets resolved from a base and a delta (some prefixes the index does not
// resolve: a missing blob), manifests sharing most blobs, and one built
// in memory whose list is not sorted.
func randomRepository(t *testing.T, r *rand.Rand) []*Manifest {
	t.Helper()
	pool := randomPrefixes(r, 300)
	full := map[Prefix]chunkstore.ID{}
	for _, p := range pool {
		if r.IntN(20) > 0 { // else the index lacks it
			var id chunkstore.ID
			copy(id[:], p[:])
			id[chunkstore.IDSize-1] = byte(r.IntN(255) + 1)
			full[p] = id
		}
	}
	resolve := func(p Prefix) (chunkstore.ID, bool) { id, ok := full[p]; return id, ok }
	pick := func() []Prefix {
		return slices.DeleteFunc(slices.Clone(pool), func(Prefix) bool { return r.IntN(3) == 0 })
	}
	var list []*Manifest
	for range 1 + r.IntN(6) {
		m := &Manifest{}
		switch r.IntN(3) {
		case 0: // version 1
			m.Version = Version
			for _, p := range pick() {
				if id, ok := full[p]; ok {
					m.Blobs = append(m.Blobs, id)
				}
			}
		case 1: // version 2, a delta on a base
			base, set := pick(), pick()
			b, id := EncodeSet(base)
			m.Version, m.Base = Version2, id
			m.added, m.removed = diffSets(base, set)
			if err := m.UseSet(b, resolve); err != nil {
				t.Fatal(err)
			}
		default: // built in memory, not sorted
			for _, p := range pick() {
				m.Blobs = append(m.Blobs, full[p])
			}
			r.Shuffle(len(m.Blobs), func(i, j int) { m.Blobs[i], m.Blobs[j] = m.Blobs[j], m.Blobs[i] })
		}
		list = append(list, m)
	}
	if r.IntN(2) == 0 { // the same snapshot twice
		list = append(list, list[0])
	}
	return list
}

// Issue 20 (end-of-backup peak RSS): the live set merged from the
// manifests' sorted lists holds exactly the blobs the map held.
func TestLiveEqualsTheMap(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 2))
	for range 200 {
		list := randomRepository(t, r)
		want := referenceLive(list)
		live := Referenced(list)
		got := slices.Collect(live.All())
		if !slices.IsSortedFunc(got, compareID) || len(slices.CompactFunc(slices.Clone(got), func(a, b chunkstore.ID) bool { return a == b })) != len(got) {
			t.Fatal("All is not sorted and distinct")
		}
		if len(got) != len(want) {
			t.Fatalf("%d blobs, want %d", len(got), len(want))
		}
		for _, id := range got {
			if _, ok := want[id]; !ok {
				t.Fatalf("blob %s is not referenced", id.Short())
			}
		}
		for id := range want {
			if !live.Has(id) {
				t.Fatalf("referenced blob %s missing", id.Short())
			}
			id[chunkstore.IDSize-1] ^= 0x80 // same prefix, another blob
			if _, ok := want[id]; !ok && live.Has(id) {
				t.Fatalf("blob %s is not referenced, Has says it is", id.Short())
			}
		}
	}
}

// Issue 20 (end-of-backup peak RSS): the live set of one snapshot (the
// end of a first backup) allocates the same for 1,000 blobs as for
// 100,000; that of three allocates one ID per distinct blob, no more.
func TestLiveMemory(t *testing.T) {
	alloc := func(k, n int) (bytes uint64, distinct int) {
		r := rand.New(rand.NewPCG(20, uint64(n)))
		var list []*Manifest
		for range k {
			m := &Manifest{Version: Version, Blobs: make([]chunkstore.ID, n)}
			for i := range m.Blobs {
				for j := range 8 {
					m.Blobs[i][j] = byte(r.IntN(256))
				}
			}
			slices.SortFunc(m.Blobs, compareID)
			list = append(list, m)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		live := Referenced(list)
		for id := range live.All() {
			if live.Has(id) {
				distinct++
			}
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, distinct
	}
	small, _ := alloc(1, 1000)
	if large, _ := alloc(1, 100_000); large > small+1024 {
		t.Errorf("one snapshot's live set allocated %d bytes for 100,000 blobs, %d for 1,000", large, small)
	}
	if large, distinct := alloc(3, 100_000); large > uint64(distinct*chunkstore.IDSize+4096) {
		t.Errorf("three snapshots' live set allocated %d bytes for %d distinct blobs", large, distinct)
	}
}

// BenchmarkLiveHas measures what garbage collection pays per index entry
// to ask whether a blob is live, against k snapshots of 168,832 blobs (the
// generated 4 GiB tree) that share nine blobs in ten, and, as before
// Issue 20, against a map of their union.
func BenchmarkLiveHas(b *testing.B) {
	const n = 168_832
	r := rand.New(rand.NewPCG(20, 3))
	randomID := func() (id chunkstore.ID) {
		for j := range 16 {
			id[j] = byte(r.IntN(256))
		}
		return id
	}
	common := make([]chunkstore.ID, n)
	for i := range common {
		common[i] = randomID()
	}
	for _, k := range []int{1, 10, 30} {
		var list []*Manifest
		for range k {
			m := &Manifest{Version: Version, Blobs: slices.Clone(common)}
			for i := 0; i < n; i += 10 {
				m.Blobs[i] = randomID()
			}
			slices.SortFunc(m.Blobs, compareID)
			list = append(list, m)
		}
		queries := append(slices.Clone(list[0].Blobs[:n/2]), list[k-1].Blobs[n/2:]...)
		for range n / 10 { // dead blobs
			queries = append(queries, randomID())
		}
		run := func(b *testing.B, has func(chunkstore.ID) bool) {
			for b.Loop() {
				for _, id := range queries {
					has(id)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(queries)), "ns/query")
		}
		b.Run(fmt.Sprintf("live/k=%d", k), func(b *testing.B) { run(b, Referenced(list).Has) })
		b.Run(fmt.Sprintf("map/k=%d", k), func(b *testing.B) {
			set := referenceLive(list)
			run(b, func(id chunkstore.ID) bool { _, ok := set[id]; return ok })
		})
	}
}
