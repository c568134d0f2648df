package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// levelOf reports which level's encoder made the stored frame of each of
// ids: every frame must be exactly what one of them makes of the blob's
// plaintext. differ counts the blobs whose frames the two levels make
// differently, for which the level is thus seen.
func levelOf(t *testing.T, s *chunkstore.Store, ids []chunkstore.ID) (levels map[chunkstore.ID]chunkstore.Level, differ int) {
	t.Helper()
	levels = make(map[chunkstore.ID]chunkstore.Level)
	for _, id := range ids {
		frame, plain, err := s.ReadFrame(id, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		fast := s.CompressAt(chunkstore.LevelFast, nil, plain)
		strong := s.CompressAt(chunkstore.LevelStrong, nil, plain)
		switch {
		case bytes.Equal(frame, fast):
			levels[id] = chunkstore.LevelFast
		case bytes.Equal(frame, strong):
			levels[id] = chunkstore.LevelStrong
		default:
			t.Fatalf("blob %s: its frame is made by neither level", id.Short())
		}
		if !bytes.Equal(fast, strong) {
			differ++
		}
	}
	return levels, differ
}

// textFile writes n bytes of text that repeats with variations, which
// the strong level compresses better than the fast one.
func textFile(t *testing.T, path string, n int, seed int) {
	t.Helper()
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "Package: lib%d-%d\nVersion: %d.%d.%d\nDepends: libc6 (>= 2.%d), zlib1g (>= 1:1.%d)\nDescription: line %d of a package list\n\n",
			i%97, seed, i%13, i%7, i*seed%101, i%41, i%17, i)
	}
	if err := os.WriteFile(path, []byte(b.String()[:n]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// exportFrames returns a snapshot's frames as export writes them.
func exportFrames(t *testing.T, s *chunkstore.Store, m *manifest.Manifest) []byte {
	t.Helper()
	fr := pipeline.NewFrameReader(context.Background(), s, m)
	defer fr.Close()
	b, err := io.ReadAll(fr)
	if err != nil {
		t.Fatalf("export of %s: %v", m.Name, err)
	}
	return b
}

// Issue 20.1: the first backup of a kind stores its blobs at
// chunkstore.LevelFast, a daily one (after a snapshot of the same kind)
// stores its new blobs at chunkstore.LevelStrong, and the first backup of
// another kind is fast again. The daily snapshot still reads back as the
// very stream a full read gives, its export decompresses to it with the
// real zstd, and exporting it twice gives the same bytes.
func TestDailyBackupCompressesHarder(t *testing.T) {
	testenv.NeedTools(t, "zstd")
	src := t.TempDir()
	if err := testtree.Generate(src, 7); err != nil {
		t.Fatal(err)
	}
	textFile(t, filepath.Join(src, "status"), 300<<10, 1)
	r := repotest.New(t, false)
	first := r.Backup(t, "tree", src, nil)

	textFile(t, filepath.Join(src, "status-new"), 300<<10, 2)
	textFile(t, filepath.Join(src, "status"), 200<<10, 3)
	daily := r.Backup(t, "tree", src, nil)
	other := r.Backup(t, "other", src, func(o *pipeline.Options) { o.Root = "o" })
	if daily.Stored.Blobs == 0 || other.Stored.Blobs == 0 {
		t.Fatalf("the daily backup stored %d new blobs, the other kind's %d: nothing to tell the level by", daily.Stored.Blobs, other.Stored.Blobs)
	}

	s := r.Open(t, true)
	seen := make(map[chunkstore.ID]bool)
	for _, c := range []struct {
		res  *pipeline.Result
		want chunkstore.Level
	}{{first, chunkstore.LevelFast}, {daily, chunkstore.LevelStrong}, {other, chunkstore.LevelFast}} {
		var added []chunkstore.ID
		for _, id := range c.res.Manifest.Blobs {
			if !seen[id] {
				seen[id] = true
				added = append(added, id)
			}
		}
		levels, differ := levelOf(t, s, added)
		if differ == 0 {
			t.Fatalf("snapshot %s: no new blob compresses differently at the two levels", c.res.Manifest.Name)
		}
		for id, l := range levels {
			if l != c.want {
				t.Fatalf("snapshot %s: blob %s stored at level %d, want %d", c.res.Manifest.Name, id.Short(), l, c.want)
			}
		}
	}

	// A full read of the unchanged source gives the same stream.
	full := r.Backup(t, "tree", src, forceRead)
	stream := r.Stream(t, daily.Manifest.Name)
	if !bytes.Equal(stream, r.Stream(t, full.Manifest.Name)) {
		t.Fatalf("the daily snapshot reads back as another stream than a full read of the source")
	}
	m := r.Load(t, daily.Manifest.Name)
	exported := exportFrames(t, s, m)
	if again := exportFrames(t, s, m); !bytes.Equal(again, exported) {
		t.Fatalf("two exports of %s differ (%d and %d bytes)", m.Name, len(exported), len(again))
	}
	cmd := exec.Command("zstd", "-d", "-c")
	cmd.Stdin = bytes.NewReader(exported)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zstd -d of the export of %s: %v", m.Name, err)
	}
	if !bytes.Equal(out, stream) {
		t.Fatalf("zstd -d of the export of %s gives %d bytes that are not its stream (%d)", m.Name, len(out), len(stream))
	}
}
