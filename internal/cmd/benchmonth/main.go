//go:build linux

// Command benchmonth applies a seeded "month of package upgrades" to a
// tree, in place, for the comparison benchmark (scripts/bench-compare):
//
//	go run ./internal/cmd/benchmonth -dir DIR [-seed 1] [-rewrite 0.02]
//	    [-delete 0.01] [-touch 0.05] [-add-mib 20]
//
// Of the regular files below DIR, a share is deleted, a share rewritten
// (as dpkg upgrades a file: a new file renamed over the old one, with new
// content of the same size and compressibility), a share only gets a new
// mtime (a reinstalled, unchanged file), and new files are added until
// about -add-mib MiB were written. Which files meet which fate depends
// only on the seed and each file's path, never on the walk order, so the
// same tree and seed always give the same result. New content is the
// bytes of an existing file XORed with a constant: it compresses exactly
// as well as the original, but shares no chunk with it.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// when is the mtime of every rewritten, touched or added file.
var when = time.Date(2026, 2, 1, 4, 0, 0, 0, time.UTC)

// addSuffix ends the name of every added file (beside the file whose
// transformed bytes it holds).
const addSuffix = ".m2"

// plan is what one month does.
type plan struct {
	seed                   uint64
	rewrite, delete, touch float64 // shares of the regular files
	add                    int64   // bytes of new files
}

// stats counts what apply did.
type stats struct {
	rewritten, deleted, touched, added int
	rewrittenBytes, addedBytes         int64
}

func main() {
	dir := flag.String("dir", "", "apply the month to the tree in `DIR` (modified in place)")
	seed := flag.Uint64("seed", 1, "seed of the choice of files")
	rewrite := flag.Float64("rewrite", 0.02, "share of regular files rewritten")
	del := flag.Float64("delete", 0.01, "share of regular files deleted")
	touch := flag.Float64("touch", 0.05, "share of regular files whose mtime alone changes")
	addMiB := flag.Float64("add-mib", 20, "MiB of new files")
	flag.Parse()
	if *dir == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: benchmonth -dir DIR [-seed N] [-rewrite 0.02] [-delete 0.01] [-touch 0.05] [-add-mib 20]")
		os.Exit(2)
	}
	p := plan{seed: *seed, rewrite: *rewrite, delete: *del, touch: *touch, add: int64(*addMiB * (1 << 20))}
	if p.rewrite < 0 || p.delete < 0 || p.touch < 0 || p.add < 0 || p.rewrite+p.delete+p.touch > 1 {
		fmt.Fprintln(os.Stderr, "benchmonth: the shares must be non-negative and add up to at most 1, and -add-mib non-negative")
		os.Exit(2)
	}
	st, err := apply(*dir, p)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmonth:", err)
		os.Exit(1)
	}
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	fmt.Printf("benchmonth: %s: rewrote %d files (%.1f MiB), deleted %d, touched %d, added %d files (%.1f MiB)\n",
		*dir, st.rewritten, mib(st.rewrittenBytes), st.deleted, st.touched, st.added, mib(st.addedBytes))
}

// regular is a regular file of the tree.
type regular struct {
	rel  string
	size int64
}

// apply performs the month p on the tree below root.
func apply(root string, p plan) (stats, error) {
	var files []regular
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		files = append(files, regular{rel, fi.Size()})
		return err
	})
	if err != nil {
		return stats{}, fmt.Errorf("walk %s: %w", root, err)
	}
	var st stats
	var kept []regular
	for _, f := range files {
		path := filepath.Join(root, f.rel)
		var err error
		switch u := p.pick(f.rel, "fate"); {
		case u < p.delete:
			err = os.Remove(path)
			st.deleted++
		case u < p.delete+p.rewrite:
			err = transform(path, path, p.key(f.rel, "rewrite"))
			st.rewritten++
			st.rewrittenBytes += f.size
		case u < p.delete+p.rewrite+p.touch:
			err = os.Chtimes(path, when, when)
			st.touched++
		default:
			kept = append(kept, f)
		}
		if err != nil {
			return st, err
		}
	}
	// New files: copies of untouched files, in the order of a seeded
	// hash, skipping those too large for what is left to add.
	sort.SliceStable(kept, func(i, j int) bool { return p.pick(kept[i].rel, "add") < p.pick(kept[j].rel, "add") })
	for _, f := range kept {
		left := p.add - st.addedBytes
		if left <= 0 {
			break
		}
		if f.size == 0 || f.size > left {
			continue
		}
		path := filepath.Join(root, f.rel)
		if err := transform(path, path+addSuffix, p.key(f.rel, "add")); err != nil {
			return st, err
		}
		st.added++
		st.addedBytes += f.size
	}
	return st, nil
}

// pick maps a path to a number in [0, 1) that depends only on the seed,
// the salt and the path.
func (p plan) pick(rel, salt string) float64 {
	h := p.hash(rel, salt)
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
}

// key is the non-zero byte that the new content of a file is XORed with.
func (p plan) key(rel, salt string) byte {
	h := p.hash(rel, salt)
	return 1 + h[8]%255
}

func (p plan) hash(rel, salt string) [32]byte {
	var b []byte
	b = binary.BigEndian.AppendUint64(b, p.seed)
	b = append(b, salt...)
	b = append(b, 0)
	b = append(b, rel...)
	return sha256.Sum256(b)
}

// transform writes the bytes of src, each XORed with k, to a temporary
// file beside dst with src's mode and owner and the mtime when, and
// renames it to dst, as a package manager installs a file.
func transform(src, dst string, k byte) (err error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	for i := range data {
		data[i] ^= k
	}
	tmp := dst + ".benchmonth-tmp"
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		// Only root can give a file away; others keep their own files.
		if err := os.Lchown(tmp, int(sys.Uid), int(sys.Gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	if err := os.Chmod(tmp, fi.Mode().Perm()|fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, when, when); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
