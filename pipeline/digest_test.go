package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/pocketsnap/pocketsnap/check"
	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// Issue 20.2: a backup into a version 2 repository records no stream
// digest (every blob's keyed ID in the authenticated manifest fixes the
// stream), and every reader still fails closed on one flipped bit in a
// blob that only the keyed ID can catch: the blob is stored as a raw zstd
// block, so the flipped frame still decompresses, to other bytes.
func TestV2BackupHasNoStreamDigestAndReadersFailClosed(t *testing.T) {
	src := t.TempDir()
	if err := testtree.Generate(src, 3); err != nil {
		t.Fatal(err)
	}
	secret := randomFile(t, filepath.Join(src, "zz", "random.bin"), 20<<10, 7)
	r := repotest.New(t, true)
	if v := r.Open(t, false).Config().Version; v != 2 {
		t.Fatalf("a new repository is version %d, want 2", v)
	}
	res := r.Backup(t, "tree", src, forceRead)
	m := r.Load(t, res.Manifest.Name)
	if d := m.Details().StreamSHA256; d != "" || res.Details.StreamSHA256 != "" {
		t.Fatalf("a version 2 backup records the stream digest %q", d)
	}
	stream := r.Stream(t, m.Name)
	if int64(len(stream)) != m.StreamSize || !bytes.Contains(stream, secret) {
		t.Fatalf("the stream reads back as %d bytes (manifest: %d), with the file's content: %v", len(stream), m.StreamSize, bytes.Contains(stream, secret))
	}

	// The body blob of zz/random.bin, and where its frame lies.
	body, _ := bodyBlobs(t, m)
	ids := body["zz/random.bin"]
	if len(ids) != 1 {
		t.Fatalf("zz/random.bin is %d blobs, want 1", len(ids))
	}
	s := r.Open(t, true)
	ix, err := s.Index()
	if err != nil {
		t.Fatal(err)
	}
	loc, ok := ix.Lookup(ids[0])
	if !ok {
		t.Fatalf("blob %s not indexed", ids[0].Short())
	}
	pack := filepath.Join(r.Dir, "data", loc.Pack.String()[:2], loc.Pack.String())
	b, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	frame := b[loc.Offset : loc.Offset+loc.Length]
	frame[len(frame)/2] ^= 0x04
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	if out, err := dec.DecodeAll(frame, nil); err != nil || bytes.Equal(out, secret[:len(out)]) {
		t.Fatalf("the flipped frame should decompress to other bytes: %v", err)
	}
	if err := os.WriteFile(pack, b, 0o600); err != nil {
		t.Fatal(err)
	}

	wantCorrupt := func(what string, err error) {
		t.Helper()
		var be *chunkstore.BlobError
		if !errors.As(err, &be) || be.Blob != ids[0] || !errors.Is(err, chunkstore.ErrCorrupt) {
			t.Errorf("%s of a snapshot with a flipped bit in blob %s: %v", what, ids[0].Short(), err)
		}
	}
	s = r.Open(t, true)
	sr := pipeline.NewStreamReader(context.Background(), s, m)
	_, err = io.Copy(io.Discard, sr)
	sr.Close()
	wantCorrupt("the stream (restore)", err)
	fr := pipeline.NewFrameReader(context.Background(), s, m)
	_, err = io.Copy(io.Discard, fr)
	fr.Close()
	wantCorrupt("the frames (export)", err)
	cres, err := check.Run(context.Background(), s, check.Options{ReadData: true, Decrypt: true})
	if err != nil {
		t.Fatal(err)
	}
	if cres.OK() || !strings.Contains(cres.Problems[0].Error(), loc.Pack.String()) {
		t.Errorf("check --read-data of the flipped pack %s: %v", loc.Pack.Short(), cres.Problems)
	}
}

// Issue 20.2: a version 1 repository keeps what version 1 writes: a backup
// that reads every byte records the stream's SHA-256 (readers written for
// version 1 may check it), and it is the SHA-256 of the stream read back.
func TestV1BackupKeepsTheStreamDigest(t *testing.T) {
	r := repotest.CopyFixture(t, "../testdata/repo-v1")
	if v := r.Open(t, false).Config().Version; v != 1 {
		t.Fatalf("the fixture is version %d, want 1", v)
	}
	src := t.TempDir()
	if err := testtree.Generate(src, 4); err != nil {
		t.Fatal(err)
	}
	randomFile(t, filepath.Join(src, "big.bin"), 200<<10, 9) // chunked
	res := r.Backup(t, "tree", src, nil)
	m := r.Load(t, res.Manifest.Name)
	if got, want := m.Details().StreamSHA256, r.StreamSHA256(t, m.Name); got != want {
		t.Fatalf("a version 1 backup records the stream digest %q, the stream's SHA-256 is %s", got, want)
	}
	if m.Version != 1 {
		t.Errorf("a version 1 repository got a manifest of version %d", m.Version)
	}
}
