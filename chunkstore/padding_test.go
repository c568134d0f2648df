package chunkstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// isPadme is the definition of a Padmé length in the paper's terms, by
// counting: E is the position of the leading bit, S that of E's plus one,
// and the low E−S bits of a Padmé length are zero.
func isPadme(n int64) bool {
	pos := func(x int64) int {
		e := 0
		for x > 1 {
			x /= 2
			e++
		}
		return e
	}
	e := pos(n)
	s := pos(int64(e)) + 1
	if e == 0 {
		s = 0
	}
	return n%(int64(1)<<max(e-s, 0)) == 0
}

func TestPadme(t *testing.T) {
	for n, want := range map[int64]int64{9: 10, 1000: 1024, 4 << 20: 4 << 20, 4<<20 + 1: 4<<20 + 128<<10, 300_000: 303_104} {
		if got := Padme(n); got != want {
			t.Errorf("Padme(%d) = %d, want %d", n, got, want)
		}
	}
	// Padme(n) is the smallest Padmé length at or above n.
	r := rand.New(rand.NewPCG(1, 2))
	check := func(n int64) {
		p := Padme(n)
		if p < n || !isPadme(p) {
			t.Fatalf("Padme(%d) = %d is not a Padmé length at or above it", n, p)
		}
		for m := n; m < p; m++ {
			if isPadme(m) {
				t.Fatalf("Padme(%d) = %d, but %d is a Padmé length", n, p, m)
			}
		}
	}
	for n := int64(1); n < 1<<13; n++ {
		check(n)
	}
	for range 200 {
		check(r.Int64N(1 << 20))
	}
}

// paddingFor makes every stored size a Padmé length, with a padding frame
// of at least its header, across age's chunk boundaries.
func TestPaddingFor(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sizes := []int64{1, 2, 100, ageChunk - 8, ageChunk, ageChunk + 1, 64 * ageChunk, 64*ageChunk - 3}
	for range 2000 {
		sizes = append(sizes, 1+r.Int64N(8<<20))
	}
	for _, enc := range []bool{false, true} {
		for _, h := range []int64{0, 185, 296, 1000} {
			if !enc && h > 0 {
				continue
			}
			for i, n := range sizes {
				// Version 2 packs end with their sealed blob table.
				tail := []int64{0, 109, 4465}[i%3]
				pad := paddingFor(enc, h, tail, n)
				if st := sealedSize(enc, h, n+pad) + tail; (pad != 0 && pad < paddingHeader) || !isPadme(st) {
					t.Fatalf("encrypted %v, header %d, %d bytes and %d after: padding %d gives %d stored bytes", enc, h, n, tail, pad, st)
				}
				if tail != 0 {
					continue
				}
				stored := sealedSize(enc, h, n+pad)
				if bound := sealedSize(enc, h, n) + paddingHeader + 2*ageTag + sealedSize(enc, h, n)/16; stored > bound {
					t.Fatalf("encrypted %v, header %d, %d bytes: padded to %d", enc, h, n, stored)
				}
				if p, ok := plainSize(enc, h, stored); !ok || p != n+pad {
					t.Fatalf("plainSize(%d) = %d, %v; want %d", stored, p, ok, n+pad)
				}
			}
		}
	}
}

// Packs written with PaddingPadme have Padmé sizes on disk, read back, are
// indexed again from their trailers on a fresh machine, and stay a valid
// zstd stream of their blobs for the real age and zstd commands.
func TestPaddedPacks(t *testing.T) {
	for _, encrypted := range []bool{true, false} {
		id, _ := age.GenerateX25519Identity()
		var recs []string
		if encrypted {
			recs = []string{id.Recipient().String()}
		}
		s, err := Init(t.TempDir(), recs)
		if err != nil {
			t.Fatal(err)
		}
		s.SetIdentities([]age.Identity{id})
		s.SetPadding(PaddingPadme)
		ids, want := writeRandomPacks(t, s, 12)
		packs, err := s.ListPacks()
		if err != nil || len(packs) != 12 {
			t.Fatalf("%d packs, %v", len(packs), err)
		}
		for _, p := range packs {
			if !isPadme(p.Size) {
				t.Errorf("encrypted %v: pack %s has %d bytes, not a Padmé length", encrypted, p.ID.Short(), p.Size)
			}
		}
		s.Close()

		os.RemoveAll(filepath.Join(s.Dir(), LocalDir))
		fresh, err := Open(s.Dir())
		if err != nil {
			t.Fatal(err)
		}
		fresh.SetIdentities([]age.Identity{id})
		for i, bid := range ids {
			got, err := fresh.ReadBlob(bid, nil)
			if err != nil || !bytes.Equal(got, want[i]) {
				t.Fatalf("encrypted %v: blob %d: %v", encrypted, i, err)
			}
		}
		fresh.Close()
		if encrypted {
			checkWithTools(t, s, id, packs[0].ID)
		}
	}
}

// writeRandomPacks writes n packs of a few incompressible blobs each, of
// sizes that put the packs' ends anywhere in age's 64 KiB chunks.
func writeRandomPacks(t *testing.T, s *Store, n int) ([]ID, [][]byte) {
	t.Helper()
	keys, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.NewChaCha8([32]byte{byte(n)})
	var ids []ID
	var blobs [][]byte
	for range n {
		w, err := s.NewWriter()
		if err != nil {
			t.Fatal(err)
		}
		for range 1 + r.Uint64()%4 {
			b := make([]byte, 1+r.Uint64()%(200<<10))
			r.Read(b)
			id := keys.BlobID(b)
			if _, err := w.Add(context.Background(), ClassChunk, id, s.Compress(nil, b), len(b)); err != nil {
				t.Fatal(err)
			}
			ids, blobs = append(ids, id), append(blobs, b)
		}
		if err := w.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return ids, blobs
}

// checkWithTools decrypts a pack with age and decompresses it with zstd:
// the padding and the trailer are skipped, the blobs come out.
func checkWithTools(t *testing.T, s *Store, id *age.X25519Identity, pack ID) {
	testenv.NeedTools(t, "age", "zstd")
	key := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(key, []byte(id.String()+"\n"), 0o600)
	// A version 2 pack's payload is the age file; its sealed blob table
	// follows.
	out, err := exec.Command("sh", "-c", `head -c "$3" "$2" | age -d -i "$1" | zstd -d -c -q`, "sh", key, s.packPath(pack),
		fmt.Sprint(payloadSize(t, s, pack))).Output()
	if err != nil {
		t.Fatalf("age -d | zstd -d of a padded pack: %v", err)
	}
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.SetIdentities([]age.Identity{id})
	entries, err := s2.packTrailer(pack)
	if err != nil {
		t.Fatal(err)
	}
	var wantOut []byte
	for _, e := range entries {
		b, err := s2.ReadBlob(e.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantOut = append(wantOut, b...)
	}
	if !bytes.Equal(out, wantOut) {
		t.Fatalf("zstd -d gives %d bytes, want the %d bytes of the pack's blobs", len(out), len(wantOut))
	}
}

// payloadSize returns the stored size of a pack's payload: the whole pack
// in version 1, the part before the sealed blob table in version 2.
func payloadSize(t *testing.T, s *Store, pack ID) int64 {
	t.Helper()
	b, err := os.ReadFile(s.packPath(pack))
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Version < 2 {
		return int64(len(b))
	}
	tk, err := s.packTableKeys()
	if err != nil {
		t.Fatal(err)
	}
	n, err := tk.payloadSize(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
