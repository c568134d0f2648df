package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

func forceRead(o *pipeline.Options) { o.ForceRead = true }

func randomFile(t *testing.T, path string, size int, seed uint64) []byte {
	t.Helper()
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func blobSet(m *manifest.Manifest) map[chunkstore.ID]bool {
	s := map[chunkstore.ID]bool{}
	for _, id := range m.Blobs {
		s[id] = true
	}
	return s
}

// newBlobs returns the blobs of b that a does not reference.
func newBlobs(a, b *manifest.Manifest) map[chunkstore.ID]bool {
	old := blobSet(a)
	n := map[chunkstore.ID]bool{}
	for _, id := range b.Blobs {
		if !old[id] {
			n[id] = true
		}
	}
	return n
}

// bodyBlobs returns the body blobs (all pieces after the header) of every
// entry in m, and the set of header blobs.
func bodyBlobs(t testing.TB, m *manifest.Manifest) (body map[string][]chunkstore.ID, headers map[chunkstore.ID]bool) {
	ids := repotest.StreamIDs(m)
	body, headers = map[string][]chunkstore.ID{}, map[chunkstore.ID]bool{}
	for _, f := range repotest.Files(t, m) {
		headers[ids[f.Piece]] = true
		body[f.Path] = ids[f.Piece+1 : f.Piece+f.Pieces]
	}
	return body, headers
}

func TestUnchangedBackupAddsNothing(t *testing.T) {
	src := t.TempDir()
	if err := testtree.Generate(src, 1); err != nil {
		t.Fatal(err)
	}
	r := repotest.New(t, false)
	first := r.Backup(t, "tree", src, nil)
	if first.Details.Counts.BytesRead == 0 || first.Stored.Packs == 0 {
		t.Fatalf("first backup read %d bytes into %d packs", first.Details.Counts.BytesRead, first.Stored.Packs)
	}
	second := r.Backup(t, "tree", src, nil)
	c := second.Details.Counts
	if second.Stored.Packs != 0 || c.NewBlobs != 0 {
		t.Errorf("unchanged backup added %d packs, %d blobs", second.Stored.Packs, c.NewBlobs)
	}
	if c.BytesRead != 0 || c.FilesCached+c.FilesEmpty != c.Files || c.Files == 0 {
		t.Errorf("unchanged backup read %d bytes; %d of %d files from the cache", c.BytesRead, c.FilesCached, c.Files)
	}
	forced := r.Backup(t, "tree", src, forceRead)
	if forced.Stored.Packs != 0 || forced.Details.Counts.BytesRead != first.Details.Counts.BytesRead {
		t.Errorf("--force-read backup added %d packs and read %d bytes (first read %d)",
			forced.Stored.Packs, forced.Details.Counts.BytesRead, first.Details.Counts.BytesRead)
	}
}

// Determinism: the same tree gives the same blob list with and without the
// files cache, and the blobs concatenate to the same stream, which GNU tar
// lists completely.
func TestDeterministicStream(t *testing.T) {
	src := t.TempDir()
	if err := testtree.Generate(src, 2); err != nil {
		t.Fatal(err)
	}
	r := repotest.New(t, false)
	a := r.Backup(t, "tree", src, nil)
	b := r.Backup(t, "tree", src, nil)       // from the files cache
	c := r.Backup(t, "tree", src, forceRead) // read again
	ma, mb, mc := r.Load(t, a.Manifest.Name), r.Load(t, b.Manifest.Name), r.Load(t, c.Manifest.Name)
	for _, m := range []*manifest.Manifest{mb, mc} {
		if !slices.Equal(repotest.StreamIDs(ma), repotest.StreamIDs(m)) {
			t.Fatalf("%s and %s have different blob lists", ma.Name, m.Name)
		}
	}
	stream := r.Stream(t, mc.Name)
	if !bytes.Equal(stream, r.Stream(t, ma.Name)) || !bytes.Equal(stream, r.Stream(t, mb.Name)) {
		t.Fatal("the snapshots' streams differ")
	}
	cmd := exec.Command("tar", "-tf", "-")
	cmd.Stdin = bytes.NewReader(stream)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("GNU tar -t: %v", err)
	}
	listed := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(listed) != len(repotest.Files(t, ma)) || len(listed) != ma.FileCount() {
		t.Fatalf("tar lists %d entries, the file index has %d", len(listed), ma.FileCount())
	}
}

func TestDedupAfterEdits(t *testing.T) {
	src := t.TempDir()
	big := randomFile(t, filepath.Join(src, "big.bin"), 64<<20, 1)
	front := randomFile(t, filepath.Join(src, "front.bin"), 16<<20, 2)
	var smallBytes int64
	for i := range 1000 {
		b := randomFile(t, filepath.Join(src, "small", string(rune('a'+i%26)), strings.Repeat("f", 1+i/26)), 8<<10, uint64(100+i))
		smallBytes += int64(len(b))
	}
	for i := range 20 {
		randomFile(t, filepath.Join(src, "dir", "sub", strings.Repeat("g", i+1)), 64<<10, uint64(5000+i))
	}
	r := repotest.New(t, false)
	prev := r.Load(t, r.Backup(t, "tree", src, nil).Manifest.Name)

	step := func(name string) (*manifest.Manifest, map[chunkstore.ID]bool) {
		t.Helper()
		m := r.Load(t, r.Backup(t, "tree", src, nil).Manifest.Name)
		n := newBlobs(prev, m)
		prev = m
		return m, n
	}

	t.Run("rewrite 4 KiB in the middle of 64 MiB", func(t *testing.T) {
		rand.NewChaCha8([32]byte{9}).Read(big[32<<20 : 32<<20+4096])
		os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644)
		m, n := step("rewrite")
		body, _ := bodyBlobs(t, m)
		changed := 0
		for _, id := range body["big.bin"] {
			if n[id] {
				changed++
			}
		}
		if changed == 0 || changed > 3 {
			t.Errorf("%d new body chunks of big.bin, want 1 to 3", changed)
		}
	})
	t.Run("insert 100 bytes at the start", func(t *testing.T) {
		data := append(bytes.Repeat([]byte{'x'}, 100), front...)
		os.WriteFile(filepath.Join(src, "front.bin"), data, 0o644)
		m, n := step("insert")
		body, _ := bodyBlobs(t, m)
		chunks := body["front.bin"]
		changed := 0
		for _, id := range chunks {
			if n[id] {
				changed++
			}
		}
		// New: the first chunk and perhaps a few more until the cut points
		// resynchronise (the minimum chunk size can skip a shifted cut), and
		// the end, whose tar padding changed length with the size (a cut can
		// fall in the padding, so the last two chunks may differ). The rest
		// of the second half must be shared.
		if len(chunks) < 8 || changed > len(chunks)/2 {
			t.Errorf("%d of %d body chunks of front.bin are new", changed, len(chunks))
		}
		for i, id := range chunks[len(chunks)/2 : len(chunks)-2] {
			if n[id] {
				t.Errorf("chunk %d of %d is new", len(chunks)/2+i, len(chunks))
			}
		}
	})
	t.Run("touch the mtime of 1000 small files", func(t *testing.T) {
		when := time.Now().Add(-time.Hour)
		filepath.WalkDir(filepath.Join(src, "small"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				os.Chtimes(p, when, when)
			}
			return err
		})
		m, n := step("touch")
		_, headers := bodyBlobs(t, m)
		for id := range n {
			if !headers[id] {
				t.Fatalf("blob %s is new but not a header", id.Short())
			}
		}
		if m.AddedBytes > smallBytes/10 {
			t.Errorf("touching added %d bytes for %d bytes of files", m.AddedBytes, smallBytes)
		}
	})
	t.Run("rename a directory", func(t *testing.T) {
		if err := os.Rename(filepath.Join(src, "dir"), filepath.Join(src, "renamed")); err != nil {
			t.Fatal(err)
		}
		m, n := step("rename")
		_, headers := bodyBlobs(t, m)
		for id := range n {
			if !headers[id] {
				t.Fatalf("blob %s is new but not a header", id.Short())
			}
		}
		if len(n) == 0 {
			t.Fatal("renaming added no header blobs")
		}
	})
}

// The frames written during a backup are a .tar.zst of the stream, and
// reading the stored frames back gives the very same bytes (no
// recompression on export).
func TestFramesAreAClassicArchive(t *testing.T) {
	src := t.TempDir()
	if err := testtree.Generate(src, 5); err != nil {
		t.Fatal(err)
	}
	r := repotest.New(t, false)
	r.Backup(t, "tree", src, nil) // blobs already stored must still be framed
	var during bytes.Buffer
	res := r.Backup(t, "tree", src, func(o *pipeline.Options) { o.Frames = &during })
	if res.Details.Counts.FilesCached != 0 || res.Stored.Packs != 0 {
		t.Fatalf("framed backup used the files cache (%d) or stored packs (%d)", res.Details.Counts.FilesCached, res.Stored.Packs)
	}
	m := r.Load(t, res.Manifest.Name)
	s := r.Open(t, true)
	fr := pipeline.NewFrameReader(context.Background(), s, m)
	defer fr.Close()
	exported, err := io.ReadAll(fr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(exported, during.Bytes()) {
		t.Fatalf("exported frames (%d bytes) differ from the frames written during backup (%d)", len(exported), during.Len())
	}
	dec, _ := zstd.NewReader(nil)
	stream, err := dec.DecodeAll(exported, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stream, r.Stream(t, m.Name)) {
		t.Fatal("decompressed frames are not the snapshot's stream")
	}
}

// The files cache is read alongside the walk: names that sort differently
// as whole paths than as the walk visits them ("a/b.c" after "a/b/c",
// "a-b" after "a/…"), files added between cached ones and files deleted
// must not make it miss an unchanged file.
func TestFilesCacheFollowsTheWalkOrder(t *testing.T) {
	src := t.TempDir()
	files := []string{"A", "a/b/c", "a/b.c", "a/x", "a-b", "a.b/y", "a0", "ab", "z z", "é", "éx"}
	for i, f := range files {
		randomFile(t, filepath.Join(src, f), 100+i, uint64(i))
	}
	r := repotest.New(t, false)
	r.Backup(t, "tree", src, nil)
	for _, f := range []string{"a/x", "a0"} {
		if err := os.Remove(filepath.Join(src, f)); err != nil {
			t.Fatal(err)
		}
	}
	added := []string{"a/a", "a/b/0", "a/b/c0", "a.a", "a.b/x", "zz"}
	var addedBytes int64
	for i, f := range added {
		addedBytes += int64(len(randomFile(t, filepath.Join(src, f), 200+i, uint64(100+i))))
	}
	c := r.Backup(t, "tree", src, nil).Details.Counts
	if c.Files != len(files)-2+len(added) || c.FilesCached != len(files)-2 || c.BytesRead != addedBytes {
		t.Errorf("%d files, %d from the cache, %d bytes read; want %d, %d, %d",
			c.Files, c.FilesCached, c.BytesRead, len(files)-2+len(added), len(files)-2, addedBytes)
	}
}

// A backup keeps scratch files (the stream's blob list, the new files
// cache) in the repository while it runs, and leaves none behind, whether
// it succeeds or fails.
func TestBackupLeavesNoScratchFiles(t *testing.T) {
	src := t.TempDir()
	randomFile(t, filepath.Join(src, "big"), 3<<20, 1)
	randomFile(t, filepath.Join(src, "d", "small"), 100, 2)
	r := repotest.New(t, false)
	r.Backup(t, "tree", src, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pipeline.Backup(ctx, r.Open(t, false), pipeline.Options{Kind: "tree", Source: src}); err == nil {
		t.Fatal("a cancelled backup succeeded")
	}
	err := filepath.WalkDir(r.Dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && chunkstore.IsTemp(d.Name()) {
			t.Errorf("scratch file %s left behind", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Issue 18.19: a service stopped for less than a millisecond is recorded
// as stopped (rounded up), not as never stopped.
func TestSubMillisecondDowntimeKept(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := repotest.New(t, false)
	for _, tc := range []struct {
		downtime time.Duration
		want     int64
	}{{0, 0}, {300 * time.Microsecond, 1}, {time.Millisecond, 1}, {1500 * time.Microsecond, 2}} {
		// One kind each: two snapshots of a kind in a second share a name.
		kind := "db" + strings.Repeat("x", int(tc.downtime/(100*time.Microsecond)))
		res := r.Backup(t, kind, src, func(o *pipeline.Options) { o.Downtime = tc.downtime })
		if got := r.Load(t, res.Manifest.Name).DowntimeMS; got != tc.want {
			t.Errorf("downtime %s recorded as %d ms, want %d", tc.downtime, got, tc.want)
		}
	}
}
