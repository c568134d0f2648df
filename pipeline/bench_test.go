package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// benchTreeSize is the file data of the tree the benchmarks back up.
const benchTreeSize = 64 << 20

// benchTree writes a deterministic ~64 MiB mixed tree below a temporary
// directory and returns it with its file bytes: ~1,300 small text-like
// files (1–64 KiB), a few medium ones (100 KiB–2 MiB), two large ones
// (8 MiB), about a quarter of the bytes random, in nested directories.
func benchTree(b *testing.B) (string, int64) {
	b.Helper()
	dir := b.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	cc := rand.NewChaCha8([32]byte{1})
	dirs := []string{dir}
	for i := range 60 {
		parent := dirs[r.IntN(len(dirs))]
		d := filepath.Join(parent, fmt.Sprintf("d%02d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	text := func(n int) []byte { return benchText(r, n) }
	random := func(n int) []byte {
		buf := make([]byte, n)
		cc.Read(buf)
		return buf
	}
	var total int64
	write := func(i int, data []byte) {
		p := filepath.Join(dirs[r.IntN(len(dirs))], fmt.Sprintf("f%05d", i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(len(data))
	}
	i := 0
	// Large: one random, one text.
	write(i, random(8<<20))
	write(i+1, text(8<<20))
	i += 2
	// Medium: 12 MiB, a third random.
	for n := 0; n < 12<<20; i++ {
		size := 100<<10 + r.IntN(2<<20-100<<10)
		if i%3 == 0 {
			write(i, random(size))
		} else {
			write(i, text(size))
		}
		n += size
	}
	// Small: the rest, 1 in 10 random.
	for total < benchTreeSize {
		size := 1<<10 + r.IntN(63<<10)
		if i%10 == 0 {
			write(i, random(size))
		} else {
			write(i, text(size))
		}
		i++
	}
	for j := range 20 {
		if err := os.Symlink(fmt.Sprintf("../f%05d", j), filepath.Join(dirs[1+j%(len(dirs)-1)], fmt.Sprintf("l%02d", j))); err != nil {
			b.Fatal(err)
		}
	}
	return dir, total
}

// benchText returns n bytes of text-like data: words of configuration
// files and numbers.
func benchText(r *rand.Rand, n int) []byte {
	words := []string{"the ", "config ", "value ", "=", "path ", "/usr/lib ", "error ", "0x1f ", "daemon ", "\n", "enabled ", "42 "}
	buf := make([]byte, 0, n+16)
	for len(buf) < n {
		if r.IntN(4) == 0 {
			buf = fmt.Appendf(buf, "%d ", r.Uint32())
		} else {
			buf = append(buf, words[r.IntN(len(words))]...)
		}
	}
	return buf[:n]
}

// clock returns distinct, increasing times one second apart, so that
// back-to-back backups of one kind get distinct snapshot names without
// waiting for the next second.
func clock() func() time.Time {
	var n atomic.Int64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

// backupOnce opens the repository, backs src up and closes it again, as
// one run of the command would.
func backupOnce(b *testing.B, dir, src string, now func() time.Time) *pipeline.Result {
	s, err := chunkstore.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	res, err := pipeline.Backup(context.Background(), s, pipeline.Options{
		Kind: "bench", Source: src, Host: "bench", Tool: "bench", Now: now,
	})
	if err != nil {
		b.Fatal(err)
	}
	if res.Manifest.Incomplete {
		b.Fatalf("incomplete snapshot: %v", res.Details.Warnings)
	}
	return res
}

// BenchmarkBackup measures a first backup of the tree into a fresh
// repository (setup untimed). Throughput is file data per second.
func BenchmarkBackup(b *testing.B) {
	src, size := benchTree(b)
	for _, bc := range []struct {
		name  string
		plain bool
	}{{"plain", true}, {"age", false}} {
		b.Run(bc.name, func(b *testing.B) { firstBackups(b, src, size, !bc.plain) })
	}
}

// firstBackups backs src, of size bytes of file data, up b.N times, each
// time into a fresh repository, encrypted or not (setup untimed), and
// reports the stored bytes per byte of file data.
func firstBackups(b *testing.B, src string, size int64, encrypted bool) {
	recipient := repotest.New(b, true).Recipient // just a fresh key
	var recs []string
	if encrypted {
		recs = []string{recipient}
	}
	base := b.TempDir()
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		dir := filepath.Join(base, fmt.Sprint(i))
		s, err := chunkstore.Init(dir, recs)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
		b.StartTimer()
		res := backupOnce(b, dir, src, nil)
		b.StopTimer()
		if i == 0 {
			b.ReportMetric(float64(res.Manifest.AddedBytes)/float64(size), "stored/byte")
		}
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// smallTree writes a deterministic tree shaped like a rootfs below a
// temporary directory and returns it with its file bytes: 6,000 text-like
// files of 1–16 KiB in 120 directories (about 50 MiB), so that walking,
// opening and reading files weigh as much as compressing them.
func smallTree(b *testing.B) (string, int64) {
	b.Helper()
	dir := b.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	var total int64
	for i := range 6000 {
		d := filepath.Join(dir, fmt.Sprintf("d%03d", i%120))
		if i < 120 {
			if err := os.Mkdir(d, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		n := 1<<10 + r.IntN(15<<10)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d", i)), benchText(r, n), 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(n)
	}
	return dir, total
}

// BenchmarkBackupSmallFiles measures a first backup of smallTree into a
// fresh encrypted repository (setup untimed), the shape of a rootfs
// (issue 20.1: the producer used to read every small file itself, while
// the workers waited). Throughput is file data per second.
func BenchmarkBackupSmallFiles(b *testing.B) {
	src, size := smallTree(b)
	firstBackups(b, src, size, true)
}

// BenchmarkBackupUnchanged measures a backup of an unchanged tree, whose
// file bodies come from the files cache. Throughput is the tree's file
// data per second, though little of it is read.
func BenchmarkBackupUnchanged(b *testing.B) {
	src, size := benchTree(b)
	r := repotest.New(b, false)
	now := clock()
	backupOnce(b, r.Dir, src, now)
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		res := backupOnce(b, r.Dir, src, now)
		if c := res.Details.Counts; c.FilesCached != c.Files {
			b.Fatalf("%d of %d files from the files cache", c.FilesCached, c.Files)
		}
	}
}

// BenchmarkStreamReader measures reading a snapshot's verified tar stream
// back as a restore does: decrypting packs, decompressing and checking
// every blob against its keyed ID (no stream digest). Throughput is
// stream bytes per second.
func BenchmarkStreamReader(b *testing.B) {
	src, _ := benchTree(b)
	for _, bc := range []struct {
		name  string
		plain bool
	}{{"plain", true}, {"age", false}} {
		b.Run(bc.name, func(b *testing.B) {
			r := repotest.New(b, bc.plain)
			m0 := backupOnce(b, r.Dir, src, nil).Manifest
			b.SetBytes(m0.StreamSize)
			b.ResetTimer()
			for range b.N {
				s, err := chunkstore.Open(r.Dir)
				if err != nil {
					b.Fatal(err)
				}
				s.SetIdentities([]age.Identity{r.Identity})
				m, err := manifest.Load(s, m0.Name)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := m.Open(s.Codec()); err != nil {
					b.Fatal(err)
				}
				sr := pipeline.NewStreamReader(context.Background(), s, m)
				n, err := io.Copy(io.Discard, sr)
				sr.Close()
				s.Close()
				if err != nil {
					b.Fatal(err)
				}
				if n != m.StreamSize {
					b.Fatalf("read %d bytes, stream is %d", n, m.StreamSize)
				}
			}
		})
	}
}
