// Command chunkstudy measures what the chunking parameters cost: it backs
// up a tree into one repository per parameter set, applies a seeded "month
// of upgrades" to a copy of the tree (rewrite a few regions of 2% of the
// files, delete 1%, touch the mtime of 5%, add 20 MiB of new files), backs
// up again, and prints the bytes each second backup added, with the blob
// counts and times.
//
//	go run ./internal/cmd/chunkstudy -src TREE
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

func main() {
	src := flag.String("src", "", "source tree (copied, never changed)")
	work := flag.String("work", os.TempDir(), "scratch directory")
	flag.Parse()
	if *src == "" {
		log.Fatal("-src is required")
	}
	dir, err := os.MkdirTemp(*work, "chunkstudy-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tree := filepath.Join(dir, "tree")
	if out, err := exec.Command("cp", "-a", *src, tree).CombinedOutput(); err != nil {
		log.Fatalf("cp: %v %s", err, out)
	}
	sets := []chunkstore.Chunking{
		{SmallBody: 1 << 20, MinSize: 256 << 10, MaxSize: 4 << 20, AverageBits: 20},
		{SmallBody: 256 << 10, MinSize: 64 << 10, MaxSize: 1 << 20, AverageBits: 18},
		{SmallBody: 512 << 10, MinSize: 128 << 10, MaxSize: 2 << 20, AverageBits: 19},
		{SmallBody: 4 << 20, MinSize: 1 << 20, MaxSize: 8 << 20, AverageBits: 21},
	}
	type result struct{ first, second *pipeline.Result }
	results := make([]result, len(sets))
	for i, ch := range sets {
		results[i].first = backup(filepath.Join(dir, fmt.Sprint("repo", i)), tree, ch)
	}
	mutate(tree)
	for i, ch := range sets {
		results[i].second = backup(filepath.Join(dir, fmt.Sprint("repo", i)), tree, ch)
	}
	fmt.Println("| small body | min / avg / max chunk | first: stored, blobs, wall | month 2: added, new blobs, wall |")
	fmt.Println("|---|---|---|---|")
	for i, ch := range sets {
		f, s := results[i].first, results[i].second
		fmt.Printf("| %d KiB | %d KiB / %d KiB / %d KiB | %.1f MiB, %d, %.1f s | %.1f MiB, %d, %.1f s |\n",
			ch.SmallBody>>10, ch.MinSize>>10, (1<<ch.AverageBits)>>10, ch.MaxSize>>10,
			mib(f.Manifest.AddedBytes), f.Stored.Blobs, f.Duration.Seconds(),
			mib(s.Manifest.AddedBytes), s.Stored.Blobs, s.Duration.Seconds())
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func backup(repo, tree string, ch chunkstore.Chunking) *pipeline.Result {
	s, err := chunkstore.Open(repo)
	if err != nil {
		if s, err = chunkstore.InitWith(repo, nil, ch); err != nil {
			log.Fatal(err)
		}
	}
	defer s.Close()
	res, err := pipeline.Backup(context.Background(), s, pipeline.Options{Kind: "tree", Source: tree})
	if err != nil {
		log.Fatal(err)
	}
	return res
}

// mutate applies a seeded month of upgrades to the tree.
func mutate(tree string) {
	r := rand.New(rand.NewPCG(2026, 11))
	var files []string
	filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	later := time.Now().Add(time.Hour)
	for _, p := range files {
		switch x := r.Float64(); {
		case x < 0.02:
			b, err := os.ReadFile(p)
			if err != nil || len(b) == 0 {
				continue
			}
			for range 3 {
				off := r.IntN(len(b))
				for i := off; i < min(off+100, len(b)); i++ {
					b[i] = byte(r.Uint32())
				}
			}
			os.WriteFile(p, b, 0o644)
		case x < 0.03:
			os.Remove(p)
		case x < 0.08:
			os.Chtimes(p, later, later)
		}
	}
	for i := range 20 {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte('a' + r.IntN(16))
		}
		os.WriteFile(filepath.Join(tree, fmt.Sprintf("new-%02d", i)), b, 0o644)
	}
}
