package offsite_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/offsite"
	"github.com/pocketsnap/pocketsnap/prune"
	"github.com/pocketsnap/pocketsnap/remote"
	"github.com/pocketsnap/pocketsnap/retention"
)

// setDays backs up four db snapshots of 40 small files: a new base set A,
// a delta on A, a new base B, a delta on B. It returns their names and
// the two set objects' names.
func (f *fixture) setDays(t *testing.T) (names []string, a, b string) {
	t.Helper()
	src := t.TempDir()
	for _, changed := range []int{40, 2, 40, 2} {
		for i := range changed {
			writeRandom(t, filepath.Join(src, fmt.Sprintf("f%02d", i)), 3000)
		}
		names = append(names, f.repo.Backup(t, "db", src, nil).Manifest.Name)
		time.Sleep(1100 * time.Millisecond)
	}
	var sets []string
	for _, n := range names {
		sets = append(sets, manifest.SetName(f.repo.Load(t, n).Base))
	}
	if sets[0] != sets[1] || sets[2] != sets[3] || sets[0] == sets[2] {
		t.Fatalf("set objects %v: want A A B B", sets)
	}
	return names, sets[0], sets[2]
}

func setsIn(l map[string]int64) []string {
	var out []string
	for name := range l {
		if strings.HasPrefix(name, manifest.SetsDir+"/") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Issue 20 (manifest v2, public part): a push sends each set object before
// the first manifest that needs it, at every instant of a push stopped
// after any object; retention in the bucket deletes a set object once no
// kept snapshot names it and never one a kept snapshot needs; the
// bucket's copy, opened with the identity alone (a lost phone), reads the
// kept snapshots back byte for byte.
func TestPushSendsSetsFirstAndBucketRetentionKeepsThem(t *testing.T) {
	f := newFixture(t)
	names, a, b := f.setDays(t)
	bk := f.bucket(t, remote.Options{})
	for allowed := 1; ; allowed++ {
		var started atomic.Int32
		res, err := f.push(t, bk, offsite.PushOptions{Jobs: 1, Stop: func() string {
			if started.Add(1) > int32(allowed) {
				return "test"
			}
			return ""
		}})
		if err != nil {
			t.Fatal(err)
		}
		checkVisibleComplete(t, f, bk)
		if res.Stopped == "" {
			break
		}
	}
	wantVisible(t, f, bk, 4)
	if got := setsIn(listing(t, bk)); !slices.Equal(got, slices.Sorted(slices.Values([]string{a, b}))) {
		t.Fatalf("set objects in the bucket %v, want %s and %s", got, a, b)
	}

	s := f.repo.Open(t, false)
	defer s.Close()
	keep := func(last int) *prune.BucketResult {
		t.Helper()
		res, err := prune.Bucket(t.Context(), s, bk, prune.BucketOptions{Policy: func(string) retention.Policy { return retention.Policy{Last: last} }})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := keep(3); len(res.Sets) != 0 || len(setsIn(listing(t, bk))) != 2 {
		t.Fatalf("deleted %v while a kept snapshot names each set", res.Sets)
	}
	if res := keep(2); len(res.Sets) != 1 || res.Sets[0].Name != a {
		t.Fatalf("deleted sets %v, want %s", res.Sets, a)
	}
	keep(1) // snapshot 3, which stored B, goes; snapshot 4 needs B
	if got := setsIn(listing(t, bk)); !slices.Equal(got, []string{b}) {
		t.Fatalf("set objects in the bucket %v, want %s", got, b)
	}
	_, rs := f.openBucket(t, bk)
	if !bytes.Equal(bucketStream(t, rs, names[3]), f.repo.Stream(t, names[3])) {
		t.Fatalf("%s read from the bucket differs from the device's", names[3])
	}
}

// Issue 20: a set object missing from the bucket, or altered there, fails
// the snapshot that needs it closed, as corruption, naming the object.
func TestBucketSetMissingOrAlteredFailsClosed(t *testing.T) {
	f := newFixture(t)
	names, _, b := f.setDays(t)
	bk := f.bucket(t, remote.Options{})
	if _, err := f.push(t, bk, offsite.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join(f.repo.Dir, b))
	if err != nil {
		t.Fatal(err)
	}
	body[len(body)-1] ^= 1
	if err := bk.Put(t.Context(), b, bytes.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatal(err)
	}
	_, rs := f.openBucket(t, bk)
	if _, err := manifest.Load(rs, names[3]); !errors.Is(err, manifest.ErrInvalid) || !strings.Contains(err.Error(), b) {
		t.Fatalf("altered %s: %v; want corruption naming it", b, err)
	}
	if err := bk.Remove(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	_, rs = f.openBucket(t, bk)
	_, err = manifest.Load(rs, names[3])
	if !errors.Is(err, manifest.ErrInvalid) || !errors.Is(err, chunkstore.ErrMissing) || !strings.Contains(err.Error(), b) {
		t.Fatalf("missing %s: %v; want it named as missing", b, err)
	}
	if _, err := manifest.Load(rs, names[1]); err != nil {
		t.Fatalf("%s, which needs the other set object: %v", names[1], err)
	}
}
