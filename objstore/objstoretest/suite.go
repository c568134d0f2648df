// Package objstoretest is the conformance suite of objstore.Store: every
// implementation runs it, so that the local directory, the bucket and the
// bucket behind a faulty network behave alike.
package objstoretest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pocketsnap/pocketsnap/objstore"
)

// Run runs the suite; open returns a fresh, empty store for each test.
func Run(t *testing.T, open func(t *testing.T) objstore.Store) {
	tests := []struct {
		name string
		run  func(*testing.T, objstore.Store)
	}{
		{"Empty", testEmpty},
		{"PutListStat", testPutListStat},
		{"ReadRange", testReadRange},
		{"Replace", testReplace},
		{"Missing", testMissing},
		{"Remove", testRemove},
		{"Parallel", testParallel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func put(t *testing.T, s objstore.Store, name string, data []byte) {
	t.Helper()
	var sent atomic.Int64
	if err := s.Put(t.Context(), name, bytes.NewReader(data), int64(len(data)), func(n int64) { sent.Add(n) }); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
	if got := sent.Load(); got < int64(len(data)) {
		t.Fatalf("put %s of %d bytes reported %d sent", name, len(data), got)
	}
}

func list(t *testing.T, s objstore.Store) map[string]int64 {
	t.Helper()
	l, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return l
}

func testEmpty(t *testing.T, s objstore.Store) {
	if l := list(t, s); len(l) != 0 {
		t.Fatalf("a new store lists %v", l)
	}
}

func testPutListStat(t *testing.T, s objstore.Store) {
	want := map[string]int64{"config": 439, "keys/secrets.age": 0, "data/ab/ab01": 300 << 10, "snapshots/db-20261206T120000Z": 7}
	for name, size := range want {
		put(t, s, name, random(int(size)))
	}
	if got := list(t, s); !maps.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	for name, size := range want {
		got, err := s.Stat(t.Context(), name)
		if err != nil || got != size {
			t.Fatalf("stat %s: %d, %v; want %d", name, got, err, size)
		}
	}
}

func testReadRange(t *testing.T, s objstore.Store) {
	data := random(1<<20 + 17)
	put(t, s, "data/cd/cd02", data)
	n := int64(len(data))
	for _, r := range [][2]int64{{0, n}, {0, 1}, {n - 1, 1}, {12345, 256 << 10}, {n - 17, 17}} {
		got, err := s.ReadRange(t.Context(), "data/cd/cd02", r[0], r[1])
		if err != nil {
			t.Fatalf("range %d+%d: %v", r[0], r[1], err)
		}
		if !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %d+%d: wrong bytes", r[0], r[1])
		}
	}
	if _, err := s.ReadRange(t.Context(), "data/cd/cd02", n-4, 8); err == nil {
		t.Fatal("a range past the end was read without an error")
	}
}

func testReplace(t *testing.T, s objstore.Store) {
	put(t, s, "local-name", random(1000))
	data := random(10)
	put(t, s, "local-name", data)
	got, err := s.ReadRange(t.Context(), "local-name", 0, 10)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after a replace: %x, %v; want %x", got, err, data)
	}
	if l := list(t, s); l["local-name"] != 10 || len(l) != 1 {
		t.Fatalf("after a replace, listed %v", l)
	}
}

func testMissing(t *testing.T, s objstore.Store) {
	if _, err := s.Stat(t.Context(), "data/ef/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a missing object: %v, want fs.ErrNotExist", err)
	}
	if _, err := s.ReadRange(t.Context(), "data/ef/missing", 0, 1); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read of a missing object: %v, want fs.ErrNotExist", err)
	}
}

func testRemove(t *testing.T, s objstore.Store) {
	put(t, s, "snapshots/a", random(5))
	put(t, s, "snapshots/b", random(6))
	for range 2 { // a second remove finds nothing, and that is fine
		if err := s.Remove(t.Context(), "snapshots/a"); err != nil {
			t.Fatalf("remove: %v", err)
		}
	}
	if l := list(t, s); !maps.Equal(l, map[string]int64{"snapshots/b": 6}) {
		t.Fatalf("after a remove, listed %v", l)
	}
	if _, err := s.Stat(t.Context(), "snapshots/a"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a removed object: %v", err)
	}
}

func testParallel(t *testing.T, s objstore.Store) {
	const n = 8
	want := map[string]int64{}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		name := fmt.Sprintf("data/%02x/pack%d", i, i)
		data := random(64<<10 + i)
		want[name] = int64(len(data))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Put(t.Context(), name, bytes.NewReader(data), int64(len(data)), nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := list(t, s); !maps.Equal(got, want) {
		t.Fatalf("after parallel puts, listed %v, want %v", got, want)
	}
}
