//go:build linux

package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testFiles = 3000

var old = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

// makeTree writes testFiles files of 1–8 KiB of seeded bytes in nested
// directories, all with the mtime old, and returns their contents by path.
func makeTree(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	root := t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	want := map[string][]byte{}
	for i := range testFiles {
		rel := filepath.Join(fmt.Sprintf("d%d", i%7), fmt.Sprintf("e%d", i%13), fmt.Sprintf("f%04d", i))
		data := make([]byte, 1<<10+r.IntN(7<<10))
		for j := range data {
			data[j] = byte('a' + r.IntN(4))
		}
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		want[rel] = data
	}
	return root, want
}

func xor(b []byte, k byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[i] ^ k
	}
	return out
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestApply checks every file's fate against the counts apply reports
// and the shares asked for, and the content of rewritten and added files.
func TestApply(t *testing.T) {
	root, before := makeTree(t)
	inodes := map[string]uint64{}
	for rel := range before {
		inodes[rel] = inode(t, filepath.Join(root, rel))
	}
	p := plan{seed: 1, rewrite: 0.02, delete: 0.01, touch: 0.05, add: 1 << 20}
	st, err := apply(root, p)
	if err != nil {
		t.Fatal(err)
	}
	var got stats
	for rel, data := range before {
		path := filepath.Join(root, rel)
		now, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			got.deleted++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", rel, fi.Mode())
		}
		switch {
		case bytes.Equal(now, data) && fi.ModTime().Equal(old):
			if inode(t, path) != inodes[rel] {
				t.Errorf("%s: unchanged, but has a new inode", rel)
			}
		case bytes.Equal(now, data) && fi.ModTime().Equal(when):
			got.touched++
		case bytes.Equal(now, xor(data, p.key(rel, "rewrite"))) && fi.ModTime().Equal(when):
			got.rewritten++
			got.rewrittenBytes += int64(len(data))
			if inode(t, path) == inodes[rel] {
				t.Errorf("%s: rewritten in place, not renamed over", rel)
			}
		default:
			t.Errorf("%s: neither unchanged, touched nor rewritten (mtime %v)", rel, fi.ModTime())
		}
		added, err := os.ReadFile(path + addSuffix)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(added, xor(data, p.key(rel, "add"))) {
			t.Errorf("%s: wrong content", rel+addSuffix)
		}
		got.added++
		got.addedBytes += int64(len(added))
	}
	if got != st {
		t.Errorf("the tree shows %+v, apply reported %+v", got, st)
	}
	for _, c := range []struct {
		name  string
		n     int
		share float64
	}{{"deleted", st.deleted, p.delete}, {"rewritten", st.rewritten, p.rewrite}, {"touched", st.touched, p.touch}} {
		if want := c.share * testFiles; float64(c.n) < want/2 || float64(c.n) > want*2 {
			t.Errorf("%d files %s, want about %.0f", c.n, c.name, want)
		}
	}
	if st.addedBytes > p.add || st.addedBytes < p.add-8<<10 {
		t.Errorf("added %d bytes, want %d minus at most one file", st.addedBytes, p.add)
	}
	leftovers, err := filepath.Glob(filepath.Join(root, "*", "*", "*.benchmonth-tmp"))
	if err != nil || len(leftovers) > 0 {
		t.Errorf("temporary files left: %v %v", leftovers, err)
	}
}

// TestApplyIsDeterministic applies the same month to two identical trees
// and compares them, then checks that another seed picks other files.
func TestApplyIsDeterministic(t *testing.T) {
	snapshot := func(seed uint64) map[string]string {
		root, _ := makeTree(t)
		if _, err := apply(root, plan{seed: seed, rewrite: 0.02, delete: 0.01, touch: 0.05, add: 256 << 10}); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			out[strings.TrimPrefix(path, root)] = fmt.Sprintf("%s %x", fi.ModTime(), data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b, c := snapshot(1), snapshot(1), snapshot(2)
	if len(a) != len(b) {
		t.Fatalf("%d files after one run, %d after the other", len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s differs between two runs with the same seed", k)
		}
	}
	same := 0
	for k, v := range a {
		if c[k] == v {
			same++
		}
	}
	if same == len(a) && len(a) == len(c) {
		t.Error("seeds 1 and 2 gave the same tree")
	}
}
