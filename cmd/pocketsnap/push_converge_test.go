package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/offsite"
	"github.com/pocketsnap/pocketsnap/remote"
)

// Issue 18.1: repeated pushes capped at about a fifth of the backlog
// converge: done in at most 6 runs, each object sent once (no object is
// deleted and sent again, none is replaced), at most 1.05 times the bytes
// of an uncapped push, and a snapshot is visible in the bucket only with
// all its packs. Issue 18.2: a capped dry run says exactly what the
// capped run then does.
func TestCappedPushConverges(t *testing.T) {
	f := newPushFixture(t)
	r := rand.New(rand.NewPCG(18, 1))
	db, files := filepath.Join(f.dir, "db"), filepath.Join(f.dir, "files")
	writeRandom(t, filepath.Join(db, "db.sst"), 3<<20, r)
	f.mustRun("backup", "db", "--source", db, "--no-rotate")
	// 25 packs at least: with a cap of a fifth, each run's unused rest
	// (less than a pack) cannot add up to a seventh run.
	for i := range 4 {
		writeRandom(t, filepath.Join(files, fmt.Sprint(i)), 28<<20, r)
	}
	f.mustRun("backup", "files", "--source", files, "--no-rotate")

	// The reference: an uncapped push to another bucket.
	main := f.bucket
	f.useBucket(f.srv.NewBucket(t), f.srv.AccessKey, f.srv.SecretKey)
	full, _ := f.pushJSON()
	if full.Capped || len(full.Snapshots) != 2 {
		t.Fatalf("uncapped push: %+v", full)
	}
	ref := f.bucket
	f.useBucket(main, f.srv.AccessKey, f.srv.SecretKey)

	limit := fmt.Sprint(full.SentBytes / 5)
	var sent int64
	runs := 0
	for {
		runs++
		if runs > 6 {
			t.Fatalf("the capped push is not done after 6 runs (%d of %d bytes sent)", sent, full.SentBytes)
		}
		before := f.objects()
		dry, _ := f.pushJSON("--dry-run", "--max-upload", limit)
		if !maps.Equal(before, f.objects()) {
			t.Fatal("a dry run changed the bucket")
		}
		res, _ := f.pushJSON("--max-upload", limit)
		now := f.objects()
		f.checkInvariants(before, now)
		for name := range before {
			if _, ok := now[name]; !ok {
				t.Fatalf("run %d deleted %s, uploaded by an earlier run", runs, name)
			}
		}
		dry.DryRun = false
		if !reflect.DeepEqual(dry, res) {
			t.Fatalf("run %d: the dry run said\n%+v\nthe push did\n%+v", runs, dry, res)
		}
		sent += res.SentBytes
		t.Logf("run %d: sent %d objects, %d bytes; %d snapshots visible; capped %v", runs, res.SentObjects, res.SentBytes, len(res.Snapshots), res.Capped)
		if !res.Capped && res.LeftObjects == 0 {
			break
		}
	}
	t.Logf("%d runs sent %d bytes; an uncapped push sent %d", runs, sent, full.SentBytes)
	if float64(sent) > 1.05*float64(full.SentBytes) {
		t.Fatalf("the capped runs sent %d bytes, more than 1.05 times the %d of an uncapped push", sent, full.SentBytes)
	}
	if runs < 5 {
		t.Fatalf("done in %d runs: the cap of %s did not hold", runs, limit)
	}
	if got, want := slices.Sorted(maps.Keys(f.objects())), slices.Sorted(maps.Keys(f.objectsOf(ref))); !slices.Equal(got, want) {
		t.Fatalf("the capped pushes left %v, the uncapped one %v", got, want)
	}
}

// Issue 18.2: a dry run reports exactly the uploads and deletions the
// push then makes, retention in the bucket included: here the new
// snapshot's arrival makes retention drop the oldest one. Issue 18.3:
// the bucket's classic archives are pruned with their sidecars as the
// local ones are.
func TestPushDryRunSaysWhatPushDoes(t *testing.T) {
	f := newPushFixture(t)
	f.env = append(f.env, "BACKUP_KEEP_DB=2")
	r := rand.New(rand.NewPCG(18, 2))
	src := filepath.Join(f.dir, "src")
	var names []string
	for i := range 3 {
		writeRandom(t, filepath.Join(src, "day.bin"), 2<<20+i, r)
		f.mustRun("backup", "db", "--source", src, "--compat")
		names = append(names, f.snapshots()[len(f.snapshots())-1])
		if i == 1 {
			f.mustRun("push")
		}
		time.Sleep(1100 * time.Millisecond)
	}
	if local := f.snapshots(); slices.Contains(local, names[0]) {
		t.Fatalf("local rotation kept %s: %v", names[0], local)
	}
	before := f.objects()
	dry, _ := f.pushJSON("--dry-run")
	if !maps.Equal(before, f.objects()) {
		t.Fatal("a dry run changed the bucket")
	}
	res, _ := f.pushJSON()
	dry.DryRun = false
	if !reflect.DeepEqual(dry, res) {
		t.Fatalf("the dry run said\n%+v\nthe push did\n%+v", dry, res)
	}
	if !slices.Equal(res.DeletedSnapshots, names[:1]) || res.DeletedPacks == 0 {
		t.Fatalf("retention in the bucket deleted %v and %d packs; want %s and its packs", res.DeletedSnapshots, res.DeletedPacks, names[0])
	}
	var archives []string
	for _, d := range res.Deletions {
		if strings.HasPrefix(d.Name, remote.ArchivesDir+"/") {
			archives = append(archives, d.Name)
		}
	}
	if len(archives) < 2 || !strings.HasSuffix(archives[0], compat.SidecarExt) {
		t.Fatalf("deleted archive files %v; want %s's archive, sidecar first", archives, names[0])
	}
	now := f.objects()
	for name := range now {
		if strings.Contains(name, names[0]) {
			t.Errorf("%s is still in the bucket", name)
		}
	}
	for _, keep := range names[1:] {
		if _, ok := now[remote.ArchivesDir+"/db/"+compat.FileName(keep, true)]; !ok {
			t.Errorf("the archive of %s went from the bucket", keep)
		}
		if _, ok := now[manifest.Dir+"/"+keep]; !ok {
			t.Errorf("snapshot %s went from the bucket", keep)
		}
	}
	f.checkInvariants(before, now)
}

// Issue 18.4: an object of 5 GiB or more is never attempted as a single
// PUT; the plan and the push say so loudly. The archive is a sparse file,
// so the test costs no disk.
func TestPushNeverSendsFiveGiBInOnePut(t *testing.T) {
	f := newPushFixture(t)
	src := f.source(184)
	f.mustRun("backup", "db", "--source", src)
	stamp := time.Now().UTC().Add(-time.Hour).Format(manifest.StampLayout)
	dir := compat.Dir(filepath.Join(f.dir, "data", "backups"), "db")
	big := filepath.Join(dir, compat.FileName("db-"+stamp, true))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(remote.MaxPutSize); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	if err := os.WriteFile(compat.SidecarPath(big), []byte("0  x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	name := remote.ArchivesDir + "/db/" + filepath.Base(big)
	for _, dryRun := range []bool{true, false} {
		var args []string
		if dryRun {
			args = append(args, "--dry-run")
		}
		sum, stderr := f.pushJSON(args...)
		if len(sum.TooLarge) != 1 || sum.TooLarge[0].Name != name {
			t.Fatalf("push %v: too_large is %v, want %s", args, sum.TooLarge, name)
		}
		if !strings.Contains(stderr, "NOT SENT: "+name+" is 5.0 GiB") {
			t.Fatalf("push %v does not say loudly that %s is not sent:\n%s", args, name, stderr)
		}
		if sum.SentBytes > 1<<30 {
			t.Fatalf("push %v sent %d bytes", args, sum.SentBytes)
		}
	}
	if _, ok := f.objects()[name]; ok {
		t.Fatalf("%s is in the bucket", name)
	}
}

// Issue 18.5: a bucket key with the seed's permissions (list, write and
// delete; no GetObject) pushes, resumes a capped push and applies
// retention in the bucket. The key is a MinIO user with exactly that
// policy, made through MinIO's admin API.
func TestPushWithWriteListDeleteKey(t *testing.T) {
	f := newPushFixture(t)
	policy := fmt.Sprintf(`{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::%[1]s"]},
		{"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": ["arn:aws:s3:::%[1]s/*"]}]}`, f.bucket)
	ak, sk := f.srv.NewUser(t, policy)
	f.useBucket(f.bucket, ak, sk)
	f.env = append(f.env, "BACKUP_KEEP_DB=2")
	r := rand.New(rand.NewPCG(18, 5))
	src := filepath.Join(f.dir, "src")
	var names []string
	backup := func() {
		writeRandom(t, filepath.Join(src, "day.bin"), 6<<20, r)
		f.mustRun("backup", "db", "--source", src)
		names = append(names, f.snapshots()[len(f.snapshots())-1])
		time.Sleep(1100 * time.Millisecond)
	}
	backup()
	backup()
	f.mustRun("push")

	// The key really cannot read: the test proves nothing otherwise.
	c, err := minio.New(f.srv.Host, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""), Secure: true, Region: f.srv.Region, Transport: caTransport(t, f.srv.CAFile)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StatObject(t.Context(), f.bucket, "p/config", minio.StatObjectOptions{}); minio.ToErrorResponse(err).StatusCode != 403 {
		t.Fatalf("reading the config with the limited key: %v, want access denied", err)
	}

	backup() // local rotation drops names[0]
	capped, _ := f.pushJSON("--max-upload", "1M")
	if !capped.Capped || len(capped.Snapshots) != 0 {
		t.Fatalf("capped push: %+v", capped)
	}
	res, _ := f.pushJSON()
	if !slices.Equal(res.Snapshots, names[2:]) || !slices.Equal(res.DeletedSnapshots, names[:1]) || res.DeletedPacks == 0 {
		t.Fatalf("push with the limited key: made %v visible, deleted %v and %d packs; want %s visible, %s and its packs deleted",
			res.Snapshots, res.DeletedSnapshots, res.DeletedPacks, names[2], names[0])
	}
	f.checkInvariants(f.objects(), f.objects())
	if got := offsite.SnapshotNames(sizesOf(f.objects())); !slices.Equal(slices.Sorted(slices.Values(got)), names[1:]) {
		t.Fatalf("the bucket shows %v, want %v", got, names[1:])
	}
}

// caTransport trusts the CA in caFile.
func caTransport(t *testing.T, caFile string) *http.Transport {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}
