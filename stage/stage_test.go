package stage

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// dbTree writes a directory shaped like RocksDB's: SSTs, a WAL, CURRENT,
// MANIFEST and OPTIONS files, a subdirectory, a symlink, odd modes,
// nanosecond mtimes and (where supported) an xattr.
func dbTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "db")
	r := rand.New(rand.NewPCG(1, 2))
	write := func(rel string, size int, mode os.FileMode) {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		mt := time.Unix(1700000000, int64(r.IntN(1e9)))
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"000011.sst", "000012.sst", "000013.blob", "archive/000007.sst"} {
		write(f, 300<<10, 0o644)
	}
	write("000014.log", 70<<10, 0o644)
	write("CURRENT", 16, 0o644)
	write("MANIFEST-000010", 4<<10, 0o600)
	write("OPTIONS-000009", 2<<10, 0o640)
	write("LOCK", 0, 0o644)
	if err := os.Symlink("MANIFEST-000010", filepath.Join(src, "manifest-link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(filepath.Join(src, "CURRENT"), "user.pocketsnap", []byte("x"), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(src, "archive"), 0o750)
	for i, d := range []string{filepath.Join(src, "archive"), src} {
		mt := time.Unix(1700000100+int64(i), 123456789)
		os.Chtimes(d, mt, mt)
	}
	return src
}

func isImmutable(t *testing.T) func(string) bool {
	m, err := Matcher(DefaultImmutable)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func stageTo(t *testing.T, src string) (string, *Result) {
	t.Helper()
	dst := Path(src, time.Now())
	res, err := Stage(context.Background(), src, dst, Options{Immutable: isImmutable(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Remove(dst) })
	return dst, res
}

// Acceptance 2: the staged view gives the stream of the stopped directory,
// and a second staged backup of the unchanged directory reads no SST body
// although linking changed every SST's ctime.
func TestStagedStreamEqualsDirect(t *testing.T) {
	src := dbTree(t)
	r := repotest.New(t, false)
	direct := r.Backup(t, "db", src, func(o *pipeline.Options) { o.ForceRead = true })
	dst, res := stageTo(t, src)
	if res.Linked != 4 || res.Copied != 5 || res.LinkErr != nil {
		t.Fatalf("staging linked %d and copied %d files (link error %v), want 4 and 5", res.Linked, res.Copied, res.LinkErr)
	}
	staged := r.Backup(t, "db", src, func(o *pipeline.Options) {
		o.Dir, o.ForceRead, o.Immutable = dst, true, isImmutable(t)
	})
	if a, b := r.StreamSHA256(t, direct.Manifest.Name), r.StreamSHA256(t, staged.Manifest.Name); a != b {
		t.Fatalf("staged stream SHA-256 %s, direct %s", b, a)
	}
	if staged.Details.Source != src {
		t.Errorf("manifest records source %s, want %s", staged.Details.Source, src)
	}
	Remove(dst)

	dst2, _ := stageTo(t, src)
	again := r.Backup(t, "db", src, func(o *pipeline.Options) { o.Dir, o.Immutable = dst2, isImmutable(t) })
	c := again.Details.Counts
	if c.FilesCached != 4 || c.BytesRead > 100<<10 {
		t.Errorf("second staged backup: %d files from the cache, %d bytes read; want the 4 SSTs and blobs unread", c.FilesCached, c.BytesRead)
	}
	Remove(dst2)
	dst3, _ := stageTo(t, src)
	without := r.Backup(t, "db", src, func(o *pipeline.Options) { o.Dir = dst3 })
	if without.Details.Counts.FilesCached != 0 {
		t.Errorf("without Immutable, %d files came from the cache despite their new ctime", without.Details.Counts.FilesCached)
	}
}

// Acceptance 4: where hard links fail (EXDEV), staging copies and says so,
// and the stream is still the stopped directory's.
func TestFallbackCopy(t *testing.T) {
	link = func(oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EXDEV}
	}
	defer func() { link = os.Link }()
	src := dbTree(t)
	r := repotest.New(t, false)
	direct := r.Backup(t, "db", src, func(o *pipeline.Options) { o.ForceRead = true })
	dst, res := stageTo(t, src)
	if !errors.Is(res.LinkErr, syscall.EXDEV) || res.Linked != 0 || res.Copied != 9 {
		t.Fatalf("fall-back: linked %d, copied %d, link error %v", res.Linked, res.Copied, res.LinkErr)
	}
	staged := r.Backup(t, "db", src, func(o *pipeline.Options) { o.Dir, o.ForceRead = dst, true })
	if r.StreamSHA256(t, direct.Manifest.Name) != r.StreamSHA256(t, staged.Manifest.Name) {
		t.Fatalf("copied stream differs from the direct one")
	}
}

// Acceptance 4: staging directories left by a crash are removed, even with
// read-only directories inside, and the source is left alone.
func TestCleanStale(t *testing.T) {
	src := dbTree(t)
	for i := range 2 {
		dir := Path(src, time.Unix(int64(i), 0))
		if err := os.MkdirAll(filepath.Join(dir, "ro", "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, "ro"), 0o500)
	}
	found, err := CleanStale(src)
	if err != nil || len(found) != 2 {
		t.Fatalf("CleanStale found %v, %v", found, err)
	}
	left, _ := filepath.Glob(src + "*")
	if len(left) != 1 || left[0] != src {
		t.Fatalf("left behind: %v", left)
	}
}

// A failed or interrupted staging removes its directory.
func TestStageFailureRemoves(t *testing.T) {
	src := dbTree(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dst := Path(src, time.Now())
	if _, err := Stage(ctx, src, dst, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled staging: %v", err)
	}
	if err := unix.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Stage(context.Background(), src, dst, Options{}); err == nil {
		t.Fatal("staging a fifo succeeded")
	}
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Fatalf("staging directory left behind: %v", err)
	}
}

func TestMatcher(t *testing.T) {
	m := isImmutable(t)
	for rel, want := range map[string]bool{"000011.sst": true, "a/b.blob": true, "CURRENT": false, "x.sst.tmp": false} {
		if m(rel) != want {
			t.Errorf("%s: immutable %v", rel, !want)
		}
	}
	if _, err := Matcher("[bad"); err == nil {
		t.Error("bad pattern accepted")
	}
}
