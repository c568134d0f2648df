package offsite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/faultproxy"
	"github.com/pocketsnap/pocketsnap/internal/miniotest"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/offsite"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/prune"
	"github.com/pocketsnap/pocketsnap/remote"
	"github.com/pocketsnap/pocketsnap/retention"
)

func TestMain(m *testing.M) { miniotest.Main(m) }

// fixture is a repository with backups, and a fresh bucket for it.
type fixture struct {
	repo *repotest.Repo
	srv  *miniotest.Server
	set  remote.Settings
}

func newFixture(t *testing.T) *fixture {
	srv := miniotest.Shared(t)
	return &fixture{
		repo: repotest.New(t, false),
		srv:  srv,
		set: remote.Settings{
			Endpoint: srv.Endpoint, Bucket: srv.NewBucket(t), Region: srv.Region,
			AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
			Prefix: "pocket", CAFile: srv.CAFile,
		},
	}
}

func (f *fixture) bucket(t *testing.T, opt remote.Options) *remote.Bucket {
	t.Helper()
	b, err := remote.Dial(f.set, opt)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) push(t *testing.T, b *remote.Bucket, opt offsite.PushOptions) (*offsite.PushResult, error) {
	t.Helper()
	s := f.repo.Open(t, false)
	defer s.Close()
	return offsite.Push(t.Context(), s, b, opt)
}

// pushedDays backs up n db snapshots of src, each with its own day.bin of
// about size bytes, and pushes them to a fresh bucket.
func (f *fixture) pushedDays(t *testing.T, src string, n, size int) ([]string, *remote.Bucket) {
	t.Helper()
	var names []string
	for i := range n {
		writeRandom(t, filepath.Join(src, "day.bin"), size+i)
		names = append(names, f.repo.Backup(t, "db", src, nil).Manifest.Name)
		time.Sleep(1100 * time.Millisecond)
	}
	b := f.bucket(t, remote.Options{})
	if _, err := f.push(t, b, offsite.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	return names, b
}

func listing(t *testing.T, b *remote.Bucket) map[string]int64 {
	t.Helper()
	l, err := b.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// source writes a generated tree plus a large random file.
func source(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := testtree.Generate(dir, 1); err != nil {
		t.Fatal(err)
	}
	writeRandom(t, filepath.Join(dir, "big.bin"), 6<<20)
	return dir
}

func writeRandom(t *testing.T, p string, n int) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkVisibleComplete asserts that every snapshot in the bucket has
// every pack it needs there: the invariant a push keeps at every instant.
func checkVisibleComplete(t *testing.T, f *fixture, b *remote.Bucket) (snapshots int) {
	t.Helper()
	l := listing(t, b)
	s := f.repo.Open(t, false)
	defer s.Close()
	ix, err := s.Index()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range offsite.SnapshotNames(l) {
		m := f.repo.Load(t, name)
		// Issue 20: a version 2 manifest needs its set object there too.
		if set := manifest.SetName(m.Base); m.Version == manifest.Version2 && l[set] == 0 {
			t.Fatalf("snapshot %s is visible in the bucket, but its set object %s is not there", name, set)
		}
		for _, id := range m.Blobs {
			loc, ok := ix.Lookup(id)
			if !ok {
				t.Fatalf("blob %s of %s is not in the local index", id, name)
			}
			if _, ok := l[chunkstore.PackName(loc.Pack)]; !ok {
				t.Fatalf("snapshot %s is visible in the bucket, but its pack %s is not there", name, loc.Pack)
			}
		}
		snapshots++
	}
	return snapshots
}

// wantVisible asserts that the bucket shows n snapshots, each with all
// its packs.
func wantVisible(t *testing.T, f *fixture, b *remote.Bucket, n int) {
	t.Helper()
	if got := checkVisibleComplete(t, f, b); got != n {
		t.Fatalf("the bucket shows %d snapshots, want %d", got, n)
	}
}

func TestSecondPushSendsOnlyTheNewPacksAndManifest(t *testing.T) {
	f := newFixture(t)
	src := source(t)
	f.repo.Backup(t, "db", src, nil)
	b := f.bucket(t, remote.Options{})

	first, err := f.push(t, b, offsite.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := listing(t, b)
	if first.SentObjects != len(before) {
		t.Fatalf("first push sent %d objects, the bucket holds %d", first.SentObjects, len(before))
	}

	// Day 2: one small file changes.
	time.Sleep(1100 * time.Millisecond) // a new snapshot name
	if err := os.WriteFile(filepath.Join(src, "changed.txt"), []byte("day two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := f.repo.Backup(t, "db", src, nil)
	second, err := f.push(t, b, offsite.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := listing(t, b)
	var added []string
	var addedBytes int64
	for name, size := range after {
		if _, ok := before[name]; !ok {
			added = append(added, name)
			addedBytes += size
		}
	}
	slices.Sort(added)
	wantManifest := path.Join(manifest.Dir, res.Manifest.Name)
	var packs int
	for _, name := range added {
		if strings.HasPrefix(name, "data/") {
			packs++
		} else if name != wantManifest {
			t.Errorf("day 2 uploaded %s", name)
		}
	}
	if packs != res.Manifest.Details().Counts.NewPacks || !slices.Contains(added, wantManifest) {
		t.Fatalf("day 2 added %v; want the backup's %d new packs and its manifest", added, res.Manifest.Details().Counts.NewPacks)
	}
	if second.SentObjects != len(added) || second.SentBytes != addedBytes {
		t.Fatalf("second push reports %d objects / %d bytes, the bucket gained %d / %d", second.SentObjects, second.SentBytes, len(added), addedBytes)
	}
	if addedBytes > 64<<10 {
		t.Fatalf("a one-file change uploaded %d bytes", addedBytes)
	}
	wantVisible(t, f, b, 2)
}

func TestPushResumesThroughResetsAndStalls(t *testing.T) {
	f := newFixture(t)
	src := source(t)
	f.repo.Backup(t, "db", src, nil)
	writeRandom(t, filepath.Join(src, "more.bin"), 5<<20)
	time.Sleep(1100 * time.Millisecond)
	f.repo.Backup(t, "db", src, nil)

	proxy, err := faultproxy.New(f.srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	direct := f.bucket(t, remote.Options{})
	f.set.Endpoint = "https://" + proxy.Addr()

	var failures int
	for attempt := 0; ; attempt++ {
		if attempt == 12 {
			t.Fatal("the push did not complete in 12 attempts")
		}
		// Every other attempt suffers: resets a few hundred KiB into a
		// connection, or stalls.
		switch attempt % 3 {
		case 0:
			proxy.Next(8, faultproxy.Fault{After: 300 << 10, Reset: true})
		case 1:
			proxy.Next(3, faultproxy.Fault{After: 100 << 10, Stall: faultproxy.Forever})
		default:
			proxy.Clear()
		}
		// A fresh connection pool for each attempt, as each run of the
		// command has: the proxy's faults strike new connections only.
		b := f.bucket(t, remote.Options{Retries: 1, StallTimeout: 500 * time.Millisecond})
		_, err := f.push(t, b, offsite.PushOptions{Jobs: 2})
		proxy.Clear()
		checkVisibleComplete(t, f, direct)
		if err == nil {
			break
		}
		failures++
		t.Logf("attempt %d failed: %v", attempt, err)
	}
	if st := proxy.Stats(); failures == 0 || st.Resets == 0 || st.Stalls == 0 {
		t.Fatalf("%d failed attempts, proxy stats %+v: the faults were not injected", failures, st)
	}
	wantVisible(t, f, direct, 2)
}

func TestPushCapStopsCleanlyAndDBGoesFirst(t *testing.T) {
	f := newFixture(t)
	src := source(t)
	f.repo.Backup(t, "rootfs", src, nil)
	small := t.TempDir()
	if err := os.WriteFile(filepath.Join(small, "db.sst"), []byte("database"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.repo.Backup(t, "db", small, nil)
	b := f.bucket(t, remote.Options{})

	res, err := f.push(t, b, offsite.PushOptions{MaxUpload: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Capped || res.SentBytes > 64<<10 || res.LeftObjects == 0 {
		t.Fatalf("capped push: %+v", res)
	}
	if len(res.Snapshots) != 1 || !strings.HasPrefix(res.Snapshots[0], "db-") {
		t.Fatalf("the capped push made %v visible, want the db snapshot", res.Snapshots)
	}
	checkVisibleComplete(t, f, b)
	rest, err := f.push(t, b, offsite.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rest.SentObjects != res.LeftObjects || rest.SentBytes != res.LeftBytes {
		t.Fatalf("the next push sent %d objects / %d bytes, the capped one left %d / %d", rest.SentObjects, rest.SentBytes, res.LeftObjects, res.LeftBytes)
	}
	wantVisible(t, f, b, 2)
}

func TestPruneMirrorsRetentionSafely(t *testing.T) {
	f := newFixture(t)
	src := source(t)
	names, b := f.pushedDays(t, src, 4, 2<<20)
	keep2 := prune.BucketOptions{Policy: func(string) retention.Policy { return retention.Policy{Last: 2} }}
	s := f.repo.Open(t, false)
	defer s.Close()

	dry := keep2
	dry.DryRun = true
	before := listing(t, b)
	plan, err := prune.Bucket(t.Context(), s, b, dry)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(before, listing(t, b)) {
		t.Fatal("a dry run changed the bucket")
	}
	res, err := prune.Bucket(t.Context(), s, b, keep2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Snapshots, names[:2]) || !slices.Equal(plan.Snapshots, res.Snapshots) || len(res.Packs) != len(plan.Packs) {
		t.Fatalf("pruned %v and %d packs (dry run said %v and %d); want %v", res.Snapshots, len(res.Packs), plan.Snapshots, len(plan.Packs), names[:2])
	}
	if len(res.Packs) == 0 {
		t.Fatal("no pack deleted, though two snapshots' own day.bin went")
	}
	wantVisible(t, f, b, 2)

	// An empty local repository deletes nothing.
	empty := repotest.New(t, false)
	es := empty.Open(t, false)
	defer es.Close()
	after := listing(t, b)
	keep1 := prune.BucketOptions{Policy: func(string) retention.Policy { return retention.Policy{Last: 1} }}
	r, err := prune.Bucket(t.Context(), es, b, keep1)
	if err != nil || r.Skipped == "" || !maps.Equal(after, listing(t, b)) {
		t.Fatalf("prune from an empty repository: %+v, %v", r, err)
	}
	// Another repository with snapshots is refused.
	empty.Backup(t, "db", src, nil)
	if _, err := prune.Bucket(t.Context(), es, b, keep1); !errors.Is(err, offsite.ErrForeign) {
		t.Fatalf("prune from another repository: %v, want ErrForeign", err)
	}
	if _, err := offsite.Push(t.Context(), es, b, offsite.PushOptions{}); !errors.Is(err, offsite.ErrForeign) {
		t.Fatalf("push from another repository: %v, want ErrForeign", err)
	}
	if !maps.Equal(after, listing(t, b)) {
		t.Fatal("another repository changed the bucket")
	}
}

func TestPruneKeepsSnapshotsNewerThanTheNewestLocal(t *testing.T) {
	f := newFixture(t)
	src := source(t)
	var names []string
	for range 3 {
		names = append(names, f.repo.Backup(t, "db", src, nil).Manifest.Name)
		time.Sleep(1100 * time.Millisecond)
	}
	b := f.bucket(t, remote.Options{})
	if _, err := f.push(t, b, offsite.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	// The device loses its newest snapshot (restored from an old copy,
	// say): the bucket's newer one must survive a prune that keeps 1.
	s := f.repo.Open(t, false)
	defer s.Close()
	if err := manifest.Delete(s, names[2]); err != nil {
		t.Fatal(err)
	}
	res, err := prune.Bucket(t.Context(), s, b, prune.BucketOptions{Policy: func(string) retention.Policy { return retention.Policy{Last: 1} }})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Snapshots, names[:2]) || !slices.Equal(res.Remaining, names[2:]) {
		t.Fatalf("pruned %v, kept %v; want %v pruned and %v kept", res.Snapshots, res.Remaining, names[:2], names[2:])
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	for _, ep := range []string{"http://198.51.100.7:9000", "http://127.0.0.1:9000", "ftp://127.0.0.1"} {
		set := f.set
		set.Endpoint = ep
		_, err := remote.Dial(set, remote.Options{})
		if err == nil || !strings.Contains(err.Error(), "S3_ENDPOINT") {
			t.Errorf("endpoint %s: %v, want a refusal naming S3_ENDPOINT", ep, err)
		}
		// Issue 18.19: a refusal recommends no hidden (test-only) flag.
		if err != nil && strings.Contains(err.Error(), "--allow-insecure-loopback") {
			t.Errorf("endpoint %s: the refusal recommends a hidden flag: %v", ep, err)
		}
	}
	set := f.set
	set.Endpoint = "http://127.0.0.1:9000"
	if _, err := remote.Dial(set, remote.Options{AllowInsecureLoopback: true}); err != nil {
		t.Errorf("http on loopback with AllowInsecureLoopback: %v", err)
	}

	plain := repotest.New(t, true)
	plain.Backup(t, "db", source(t), nil)
	ps := plain.Open(t, false)
	defer ps.Close()
	if _, err := offsite.Push(t.Context(), ps, f.bucket(t, remote.Options{}), offsite.PushOptions{}); !errors.Is(err, offsite.ErrPlaintext) {
		t.Fatalf("push of an unencrypted repository: %v", err)
	}

	wrong := f.set
	wrong.SecretAccessKey = "not-the-secret-" + f.srv.SecretKey[:4]
	bw, err := remote.Dial(wrong, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bw.List(context.Background())
	if !errors.Is(err, remote.ErrDenied) || !strings.Contains(err.Error(), f.set.Bucket) || strings.Contains(err.Error(), wrong.SecretAccessKey) {
		t.Fatalf("bad credentials: %v", err)
	}
}

func TestRestoreStreamFromTheBucketFetchesEachRangeOnce(t *testing.T) {
	f := newFixture(t)
	res := f.repo.Backup(t, "db", source(t), nil)
	fsys, s := f.pushAndOpen(t)
	if !bytes.Equal(bucketStream(t, s, res.Manifest.Name), f.repo.Stream(t, res.Manifest.Name)) {
		t.Fatal("the stream read from the bucket differs from the local one")
	}
	var stored int64
	for _, size := range fsys.Listing() {
		stored += size
	}
	reqs, fetched := fsys.Fetched()
	t.Logf("%d ranged GETs fetched %d bytes of %d stored", reqs, fetched, stored)
	if fetched > stored {
		t.Fatalf("fetched %d bytes, more than the %d the bucket holds: some ranges were fetched twice", fetched, stored)
	}
}

// Issue 20 (a v1 repository keeps working, push included): the committed
// version 1 repository is pushed to a real bucket and every snapshot is
// read back from it by range, with the identity, to the same stream as
// from the device.
func TestPushAndReadV1Fixture(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "repo")
	if out, err := exec.Command("cp", "-a", "../testdata/repo-v1/repo", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	key, err := os.ReadFile("../testdata/repo-v1/identity.txt")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(key))
	if err != nil {
		t.Fatal(err)
	}
	id := ids[0].(*age.X25519Identity)
	f.repo = &repotest.Repo{Dir: dir, Identity: id, Recipient: id.Recipient().String()}
	_, s := f.pushAndOpen(t)
	if v := s.Config().Version; v != 1 {
		t.Fatalf("the bucket holds a version %d repository", v)
	}
	names, err := manifest.Names(s)
	if err != nil || len(names) != 3 {
		t.Fatalf("snapshots in the bucket: %v, %v", names, err)
	}
	for _, name := range names {
		if !bytes.Equal(bucketStream(t, s, name), f.repo.Stream(t, name)) {
			t.Fatalf("%s read from the bucket differs from the device's", name)
		}
	}
}

// pushAndOpen pushes the fixture's repository and opens the bucket's copy
// with the identity, as a lost phone's owner would.
func (f *fixture) pushAndOpen(t *testing.T) (*remote.FS, *chunkstore.Store) {
	t.Helper()
	b := f.bucket(t, remote.Options{})
	if _, err := f.push(t, b, offsite.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	return f.openBucket(t, b)
}

// openBucket opens the bucket's copy with the identity, as a lost phone's
// owner would.
func (f *fixture) openBucket(t *testing.T, b *remote.Bucket) (*remote.FS, *chunkstore.Store) {
	t.Helper()
	fsys, err := b.FS(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	s, err := remote.Open(fsys, nil, []age.Identity{f.repo.Identity})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return fsys, s
}

// bucketStream reads a snapshot's tar stream from the bucket's copy.
func bucketStream(t *testing.T, s *chunkstore.Store, name string) []byte {
	t.Helper()
	m, err := manifest.Load(s, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(s.Codec()); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(pipeline.NewStreamReader(t.Context(), s, m))
	if err != nil {
		t.Fatalf("%s from the bucket: %v", name, err)
	}
	return got
}

// Issue 17.5, the bucket's part: while a local snapshot's manifest does
// not load, retention in the bucket still drops snapshots, but deletes no
// pack, since that snapshot's packs may already be there.
func TestPruneDeletesNoPackWhileALocalManifestIsUnreadable(t *testing.T) {
	f := newFixture(t)
	src := source(t)
	names, b := f.pushedDays(t, src, 3, 1<<20)
	writeRandom(t, filepath.Join(src, "day.bin"), 1<<20+7)
	damaged := f.repo.Backup(t, "db", src, nil).Manifest.Name
	if err := os.WriteFile(filepath.Join(f.repo.Dir, manifest.Dir, damaged), []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := f.repo.Open(t, false)
	keep2 := prune.BucketOptions{Policy: func(string) retention.Policy { return retention.Policy{Last: 2} }}
	res, err := prune.Bucket(t.Context(), s, b, keep2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Snapshots, names[:1]) || len(res.Packs) != 0 || !slices.Equal(res.Unknown, []string{damaged}) {
		t.Fatalf("pruned %v and %d packs, unknown %v; want %s pruned, no pack, %s unknown", res.Snapshots, len(res.Packs), res.Unknown, names[0], damaged)
	}
	wantVisible(t, f, b, 2)
}
