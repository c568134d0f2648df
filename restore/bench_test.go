package restore_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/restore"
)

// BenchmarkRestore measures a whole restore (read, verify, extract into
// staging, move into place) of a tree like a root filesystem's: 2,000
// small files in 40 directories and four of 4 MiB, from an encrypted and
// a plaintext repository. Issue 20 (restore): per-file overhead and
// per-blob hand-offs dominate such a tree; throughput is stream bytes per
// second.
func BenchmarkRestore(b *testing.B) {
	src := b.TempDir()
	r := rand.New(rand.NewPCG(20, 1))
	buf := make([]byte, 4<<20)
	for i := range 40 {
		os.Mkdir(filepath.Join(src, fmt.Sprintf("d%02d", i)), 0o755)
	}
	for i := range 2004 {
		n := 512 + r.IntN(16<<10)
		if i%500 == 0 {
			n = len(buf)
		}
		for j := range n {
			buf[j] = "abcdefgh \n"[r.IntN(10)] // compressible, like text
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("f%04d", i)), buf[:n], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name  string
		plain bool
	}{{"age", false}, {"plain", true}} {
		b.Run(bc.name, func(b *testing.B) {
			repo := repotest.New(b, bc.plain)
			name := repo.Backup(b, "tree", src, nil).Manifest.Name
			s := repo.Open(b, true)
			m, err := manifest.Load(s, name)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(m.StreamSize)
			parent := b.TempDir()
			i := 0
			for b.Loop() {
				target := filepath.Join(parent, fmt.Sprint(i))
				i++
				if _, err := restore.Into(context.Background(), restore.Source{Store: s, Manifest: m}, target, asRoot, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
