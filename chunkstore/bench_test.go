package chunkstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"github.com/restic/chunker"
)

// benchRandom returns n deterministic incompressible bytes.
func benchRandom(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{7}).Read(b)
	return b
}

// benchText returns n deterministic bytes of log-like text that zstd
// compresses about 3–4:1.
func benchText(n int) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	words := []string{"kernel: ", "systemd[1]: ", "Started ", "session ", "of user ", "root", ".\n",
		"/usr/lib/", "x86_64-linux-gnu/", "libc.so.6 ", "error ", "warning: ", "= ", "enabled\n"}
	b := make([]byte, 0, n+32)
	for len(b) < n {
		if r.IntN(3) == 0 {
			b = fmt.Appendf(b, "%d ", r.Uint32N(1<<20))
		} else {
			b = append(b, words[r.IntN(len(words))]...)
		}
	}
	return b[:n]
}

func benchKeys(b *testing.B) *Keys {
	b.Helper()
	k, err := NewKeys()
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// BenchmarkBlobID measures the keyed blob ID (HMAC-SHA-256) of a small
// piece (a tar header or small file) and of a typical 1 MiB chunk.
func BenchmarkBlobID(b *testing.B) {
	k := benchKeys(b)
	for _, size := range []int{4 << 10, 1 << 20} {
		data := benchRandom(size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for range b.N {
				k.BlobID(data)
			}
		})
	}
}

// BenchmarkCompress measures compressing a 1 MiB blob into its zstd frame
// at each level, for compressible text and for incompressible bytes.
func BenchmarkCompress(b *testing.B) {
	s, err := Init(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, bc := range []struct {
		name string
		data []byte
	}{{"text", benchText(1 << 20)}, {"random", benchRandom(1 << 20)}} {
		for _, l := range []struct {
			name  string
			level Level
		}{{"fast", LevelFast}, {"strong", LevelStrong}} {
			b.Run(bc.name+"/"+l.name, func(b *testing.B) {
				dst := make([]byte, 0, len(bc.data)+len(bc.data)/8)
				var frame []byte
				b.SetBytes(int64(len(bc.data)))
				for range b.N {
					frame = s.CompressAt(l.level, dst[:0], bc.data)
				}
				b.ReportMetric(float64(len(frame))/float64(len(bc.data)), "ratio")
			})
		}
	}
}

// BenchmarkChunker measures content-defined chunking of 64 MiB of random
// data with the default chunking parameters.
func BenchmarkChunker(b *testing.B) {
	const size = 64 << 20
	data := benchRandom(size)
	pol := chunker.Pol(0x3DA3358B4DC173) // restic's test polynomial
	if !pol.Irreducible() {
		b.Fatal("polynomial is not irreducible")
	}
	ch := DefaultChunking
	buf := make([]byte, ch.MaxSize)
	c := chunker.NewWithBoundaries(nil, pol, uint(ch.MinSize), uint(ch.MaxSize))
	var chunks int
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		c.ResetWithBoundaries(bytes.NewReader(data), pol, uint(ch.MinSize), uint(ch.MaxSize))
		c.SetAverageBits(ch.AverageBits)
		chunks = 0
		for {
			_, err := c.Next(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			chunks++
		}
	}
	b.ReportMetric(float64(chunks), "chunks/op")
}

// BenchmarkWritePack measures Writer.Add of 1 MiB frames and Flush: per
// operation a new Writer, four frames, so one pack (age-encrypted, or
// plain), written to a temporary file, fsynced, renamed and indexed.
func BenchmarkWritePack(b *testing.B) {
	const frames, frameSize = 4, 1 << 20
	frame := benchRandom(frameSize)
	for _, bc := range []struct {
		name  string
		plain bool
	}{{"plain", true}, {"age", false}} {
		b.Run(bc.name, func(b *testing.B) {
			var recs []string
			if !bc.plain {
				id, err := age.GenerateX25519Identity()
				if err != nil {
					b.Fatal(err)
				}
				recs = []string{id.Recipient().String()}
			}
			dir := b.TempDir()
			s, err := Init(dir, recs)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			var n uint64
			b.SetBytes(frames * frameSize)
			b.ResetTimer()
			for i := range b.N {
				w, err := s.NewWriter() // a Writer cannot be used after Flush
				if err != nil {
					b.Fatal(err)
				}
				for range frames {
					var id ID
					n++
					binary.LittleEndian.PutUint64(id[:], n)
					if added, err := w.Add(ctx, ClassBody, id, frame, frameSize); err != nil || !added {
						b.Fatalf("Add = %v, %v", added, err)
					}
				}
				if err := w.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				if i%64 == 63 { // keep the disk usage bounded
					b.StopTimer()
					removePacks(b, dir)
					b.StartTimer()
				}
			}
		})
	}
}

func removePacks(b *testing.B, dir string) {
	b.Helper()
	subs, err := filepath.Glob(filepath.Join(dir, dataDir, "*"))
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range subs {
		if err := os.RemoveAll(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadBlob measures reading one 1 MiB blob back, the restore's
// per-blob work: its byte range of the pack (age-decrypted, or plain),
// zstd decompression and the check of its keyed ID. The pack stays open
// between reads, as during a restore.
func BenchmarkReadBlob(b *testing.B) {
	const blobs, size = 4, 1 << 20
	for _, bc := range []struct {
		name  string
		plain bool
	}{{"plain", true}, {"age", false}} {
		b.Run(bc.name, func(b *testing.B) {
			id, err := age.GenerateX25519Identity()
			if err != nil {
				b.Fatal(err)
			}
			var recs []string
			if !bc.plain {
				recs = []string{id.Recipient().String()}
			}
			s, err := Init(b.TempDir(), recs)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.SetIdentities([]age.Identity{id})
			keys, w := newTestWriter(b, s)
			ctx := context.Background()
			text := benchText(blobs * size)
			var ids [blobs]ID
			for i := range blobs {
				plain := text[i*size : (i+1)*size]
				ids[i] = keys.BlobID(plain)
				if _, err := w.Add(ctx, ClassBody, ids[i], s.Compress(nil, plain), size); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, size)
			b.SetBytes(size)
			b.ResetTimer()
			for i := range b.N {
				out, err := s.ReadBlob(ids[i%blobs], dst[:0])
				if err != nil {
					b.Fatal(err)
				}
				if len(out) != size {
					b.Fatalf("read %d bytes, want %d", len(out), size)
				}
			}
		})
	}
}
