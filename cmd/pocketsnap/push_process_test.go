package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/miniotest"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/job"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/offsite"
)

// pushFixture is a CLI whose offsite secrets point at a fresh bucket.
type pushFixture struct {
	*cli
	srv    *miniotest.Server
	bucket string
}

func newPushFixture(t *testing.T) *pushFixture {
	srv := miniotest.Shared(t)
	c := newCLI(t)
	f := &pushFixture{cli: c, srv: srv}
	f.useBucket(srv.NewBucket(t), srv.AccessKey, srv.SecretKey)
	// Retention in the bucket is tested on its own: keep everything here.
	c.env = append(c.env, "ENABLE_OFFSITE_BACKUP=true", "BACKUP_KEEP_DB=1000")
	return f
}

// useBucket points the offsite secrets at a bucket, with a key.
func (f *pushFixture) useBucket(bucket, accessKey, secretKey string) {
	f.t.Helper()
	f.bucket = bucket
	dir := filepath.Join(f.dir, "data", "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		f.t.Fatal(err)
	}
	conf := fmt.Sprintf("S3_ENDPOINT=%s\nS3_BUCKET=%s\nS3_REGION=%s\nS3_ACCESS_KEY_ID=%s\nS3_SECRET_ACCESS_KEY=%s\nS3_PREFIX=p\nS3_CA_FILE=%s\n",
		f.srv.Endpoint, bucket, f.srv.Region, accessKey, secretKey, f.srv.CAFile)
	if err := os.WriteFile(filepath.Join(dir, "offsite.env"), []byte(conf), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// pushJSON runs a push with --json and returns its summary and its
// stderr.
func (f *pushFixture) pushJSON(args ...string) (job.PushResult, string) {
	f.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := f.command(append([]string{"push", "--json"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		f.t.Fatalf("pocketsnap push --json %v: %v\n%s", args, err, stderr.String())
	}
	var sum job.PushResult
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &sum); err != nil {
		f.t.Fatalf("push --json %v: %v\n%s", args, err, stdout.String())
	}
	return sum, stderr.String()
}

// source generates a tree to back up.
func (f *pushFixture) source(seed int64) string {
	f.t.Helper()
	src := filepath.Join(f.dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := testtree.Generate(src, seed); err != nil {
		f.t.Fatal(err)
	}
	return src
}

// objects lists the bucket: name → last modification, which a second PUT
// of the same object would change.
func (f *pushFixture) objects() map[string]time.Time {
	f.t.Helper()
	return f.objectsOf(f.bucket)
}

// objectsOf is objects for another bucket.
func (f *pushFixture) objectsOf(bucket string) map[string]time.Time {
	f.t.Helper()
	out := map[string]time.Time{}
	for o := range f.srv.Client(f.t).ListObjects(f.t.Context(), bucket, minio.ListObjectsOptions{Prefix: "p/", Recursive: true}) {
		if o.Err != nil {
			f.t.Fatal(o.Err)
		}
		out[strings.TrimPrefix(o.Key, "p/")] = o.LastModified
	}
	return out
}

// checkInvariants asserts that every snapshot visible in the bucket has
// all its packs there, and that no object of before was sent again.
func (f *pushFixture) checkInvariants(before, now map[string]time.Time) {
	f.t.Helper()
	for name, mod := range before {
		if cur, ok := now[name]; ok && cur != mod {
			f.t.Fatalf("%s was uploaded again (modified %v, then %v)", name, mod, now[name])
		}
	}
	s, err := chunkstore.Open(filepath.Join(f.dir, "data", "backups", "repo"))
	if err != nil {
		f.t.Fatal(err)
	}
	defer s.Close()
	ix, err := s.Index()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, name := range offsite.SnapshotNames(sizesOf(now)) {
		m, err := manifest.Load(s, name)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, id := range m.Blobs {
			loc, ok := ix.Lookup(id)
			if !ok {
				f.t.Fatalf("blob %s of %s is not indexed", id, name)
			}
			if _, ok := now[chunkstore.PackName(loc.Pack)]; !ok {
				f.t.Fatalf("snapshot %s is visible in the bucket without its pack %s", name, loc.Pack)
			}
		}
	}
}

// noSecretInArgv fails if any process's argv holds the secret.
func noSecretInArgv(t *testing.T, secret string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(secret)) {
			t.Fatalf("the secret key is in the argv of %s: %q", p, b)
		}
	}
}

// Acceptance (offsite issue): a push killed with SIGKILL at random
// moments never leaves a visible snapshot without its packs, never sends a
// finished object again, and the next push completes. Meanwhile the
// secret key is in no process's argv and in no output.
func TestPushSurvivesSIGKILL(t *testing.T) {
	f := newPushFixture(t)
	src := f.source(5)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 3 {
		writeRandom(t, filepath.Join(src, "bulk", fmt.Sprint(i)), 6<<20, r)
		f.mustRun("backup", "db", "--source", src, "--no-rotate")
		time.Sleep(1100 * time.Millisecond)
	}
	f.bin = buildBinary(t)
	// A capped rate makes a whole push last a few seconds.
	push := []string{"push", "--limit-upload", "4M", "--jobs", "2"}
	full := 5 * time.Second

	var output bytes.Buffer
	killed := 0
	for i := 0; killed < 10; i++ {
		if i == 30 {
			t.Fatalf("only %d of 30 pushes were killed before they finished", killed)
		}
		before := f.objects()
		cmd := f.command(push...)
		cmd.Stdout, cmd.Stderr = &output, &output
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Duration(r.Int64N(int64(full))))
		for time.Now().Before(deadline) {
			noSecretInArgv(t, f.srv.SecretKey)
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		f.checkInvariants(before, f.objects())
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
			continue
		}
		// It finished first: start over with a new snapshot to push.
		writeRandom(t, filepath.Join(src, "bulk", "new"), 8<<20, r)
		f.mustRun("backup", "db", "--source", src, "--no-rotate")
	}
	before := f.objects()
	out := f.mustRun("push")
	output.WriteString(out)
	f.checkInvariants(before, f.objects())
	if strings.Contains(output.String(), f.srv.SecretKey) {
		t.Fatal("the secret key appears in the output of push")
	}
	if got, want := len(offsite.SnapshotNames(sizesOf(f.objects()))), len(f.snapshots()); got != want {
		t.Fatalf("the bucket shows %d snapshots, the device has %d", got, want)
	}
	if out := f.mustRun("push"); !strings.Contains(out, "uploaded 0 objects") {
		t.Fatalf("a push after a complete one sent something:\n%s", out)
	}
}

func sizesOf(m map[string]time.Time) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k := range m {
		out[k] = 0
	}
	return out
}

// Acceptance (tamper evidence, for the bucket): with padding on, no object
// in the bucket, nor its name, holds a source file's name, path or digest
// or a blob's size, and every pack is a Padmé length.
func TestBucketLeaksNothing(t *testing.T) {
	f := newPushFixture(t)
	f.env = append(f.env, "PACK_PADDING=padme")
	src := f.source(44)
	f.mustRun("backup", "files", "--source", src, "--compat")
	f.mustRun("push")
	repo := filepath.Join(f.dir, "data", "backups", "repo")
	n := sourceNeedles(t, src)
	blobSizeNeedles(t, n, repo)

	client := f.srv.Client(t)
	scanned, packs := 0, 0
	for o := range client.ListObjects(t.Context(), f.bucket, minio.ListObjectsOptions{Prefix: "p/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		name := strings.TrimPrefix(o.Key, "p/")
		if strings.HasPrefix(name, "local/") {
			t.Errorf("device state %s was uploaded", name)
		}
		if what, ok := n.find([]byte(name)); ok {
			t.Errorf("object name %s reveals the %s", name, what)
		}
		obj, err := client.GetObject(t.Context(), f.bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(obj); err != nil {
			t.Fatal(err)
		}
		obj.Close()
		if what, ok := n.find(b.Bytes()); ok {
			t.Errorf("object %s reveals the %s", name, what)
		}
		if strings.HasPrefix(name, "data/") {
			packs++
			if size := int64(b.Len()); chunkstore.Padme(size) != size {
				t.Errorf("pack %s has %d bytes, not a Padmé length", name, size)
			}
		}
		scanned += b.Len()
	}
	if packs < 3 || scanned < 1<<20 {
		t.Fatalf("scanned %d packs, %d bytes", packs, scanned)
	}
}

// Acceptance (tamper evidence): a bucket whose newest snapshot is older
// than the last one the device pushed (someone deleted the newer ones)
// is reported loudly by every read of the bucket.
func TestBucketRollbackIsReported(t *testing.T) {
	f := newPushFixture(t)
	src := f.source(45)
	f.mustRun("backup", "db", "--source", src)
	time.Sleep(1100 * time.Millisecond)
	f.mustRun("backup", "db", "--source", src)
	f.mustRun("push")
	if out := f.mustRun("snapshots", "--remote"); strings.Contains(out, "ROLLBACK") {
		t.Fatalf("a rollback reported on an intact bucket:\n%s", out)
	}
	names := f.snapshots()
	newest := names[len(names)-1]
	if err := f.srv.Client(t).RemoveObject(t.Context(), f.bucket, "p/snapshots/"+newest, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"snapshots", "--remote"}, {"restore", "--from=remote", names[0], "--target", filepath.Join(f.dir, "out")}} {
		out := f.mustRun(args...)
		want := "POSSIBLE ROLLBACK: the newest db snapshot in the bucket is " + names[0] + ", but this device pushed " + newest
		if !strings.Contains(out, want) {
			t.Errorf("pocketsnap %v does not warn %q:\n%s", args, want, out)
		}
	}
}
