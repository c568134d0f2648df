package chunkstore

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// Issue 20.1: LevelStrong compresses text smaller than LevelFast, gives
// incompressible data LevelFast's frame (stored raw: the stronger encoder
// would save nothing, which BenchmarkCompress shows it costing ten times
// the time before CompressAt skipped it), gives the same frame for the
// same plaintext every time, and every frame decompresses with the real
// zstd to the plaintext.
func TestCompressLevels(t *testing.T) {
	testenv.NeedTools(t, "zstd")
	s := gcStore(t)
	var b strings.Builder
	for i := 0; b.Len() < 256<<10; i++ {
		fmt.Fprintf(&b, "Package: lib%d\nVersion: %d.%d\nDepends: libc6 (>= 2.%d)\n\n", i%89, i%13, i*7%101, i%37)
	}
	text := []byte(b.String())
	random := make([]byte, 256<<10)
	rand.Read(random)

	fast, strong := s.CompressAt(LevelFast, nil, text), s.CompressAt(LevelStrong, nil, text)
	if len(strong) >= len(fast) {
		t.Fatalf("text: strong frame %d bytes, fast %d", len(strong), len(fast))
	}
	if again := s.CompressAt(LevelStrong, []byte("prefix"), text); !bytes.Equal(again[6:], strong) || string(again[:6]) != "prefix" {
		t.Fatal("the strong frame of the same text differs, or dst's bytes were not kept")
	}
	if !bytes.Equal(s.Compress(nil, text), fast) {
		t.Fatal("Compress is not LevelFast")
	}
	rf, rs := s.CompressAt(LevelFast, nil, random), s.CompressAt(LevelStrong, []byte("x"), random)
	if !bytes.Equal(rs[1:], rf) {
		t.Fatalf("random data: strong frame (%d bytes) is not the fast one (%d)", len(rs)-1, len(rf))
	}
	for _, c := range []struct {
		frame, plain []byte
	}{{fast, text}, {strong, text}, {rf, random}} {
		cmd := exec.Command("zstd", "-d", "-c")
		cmd.Stdin = bytes.NewReader(c.frame)
		out, err := cmd.Output()
		if err != nil || !bytes.Equal(out, c.plain) {
			t.Fatalf("zstd -d of a %d-byte frame: %v, %d bytes out of %d", len(c.frame), err, len(out), len(c.plain))
		}
	}
}

// Issue 20.3: CompressAt grows dst once, up front, to the largest frame
// the plaintext can make, so that the encoder never reallocates and
// copies the frame as it appends blocks: one allocation per frame, at
// either level, for text and for incompressible data; and a dst with
// room enough is used as it is.
func TestCompressAtAllocatesOnce(t *testing.T) {
	s := gcStore(t)
	var b strings.Builder
	for i := 0; b.Len() < 2<<20; i++ {
		fmt.Fprintf(&b, "Package: lib%d\nVersion: %d.%d\n\n", i%89, i%13, i*7%101)
	}
	random := make([]byte, 2<<20)
	rand.Read(random)
	for _, l := range []Level{LevelFast, LevelStrong} {
		for name, p := range map[string][]byte{"text": []byte(b.String()), "random": random} {
			s.CompressAt(l, nil, p) // the encoder's own tables
			if n := testing.AllocsPerRun(3, func() { s.CompressAt(l, nil, p) }); n != 1 {
				t.Errorf("level %d, %s: %v allocations per frame, want 1", l, name, n)
			}
			dst := make([]byte, 0, 3<<20)
			if n := testing.AllocsPerRun(3, func() { s.CompressAt(l, dst, p) }); n != 0 {
				t.Errorf("level %d, %s: %v allocations with room in dst, want 0", l, name, n)
			}
		}
	}
}
