//go:build linux

package extract_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/extract"
)

// benchArchive returns an in-memory PAX tar stream like a small rootfs:
// 50 directories, 2,000 small files (512 B–16 KiB), 4 large files (8 MiB),
// some symlinks and hardlinks.
func benchArchive(b *testing.B) []byte {
	b.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	cc := rand.NewChaCha8([32]byte{5})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1764388800, 123456789)
	uid, gid := os.Getuid(), os.Getgid()
	add := func(h *tar.Header, body []byte) {
		h.Format, h.ModTime, h.Uid, h.Gid = tar.FormatPAX, mtime, uid, gid
		if err := tw.WriteHeader(h); err != nil {
			b.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			b.Fatal(err)
		}
	}
	add(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755}, nil)
	var dirs []string
	for i := range 50 {
		d := fmt.Sprintf("d%02d/", i)
		if i >= 10 {
			d = dirs[r.IntN(10)] + d
		}
		dirs = append(dirs, d)
		add(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}, nil)
	}
	var files []string
	body := make([]byte, 8<<20)
	for i := range 2004 {
		size := 512 + r.IntN(16<<10-512)
		if i%500 == 0 {
			size = 8 << 20
		}
		data := body[:size]
		cc.Read(data)
		name := fmt.Sprintf("%sf%04d", dirs[r.IntN(len(dirs))], i)
		files = append(files, name)
		add(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(size)}, data)
	}
	for i := range 50 {
		add(&tar.Header{Typeflag: tar.TypeSymlink, Name: fmt.Sprintf("%sl%02d", dirs[i], i), Linkname: "../" + files[i], Mode: 0o777}, nil)
		add(&tar.Header{Typeflag: tar.TypeLink, Name: fmt.Sprintf("%sh%02d", dirs[i], i), Linkname: files[i*7+1]}, nil)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkExtract measures extracting the archive into an empty
// directory (creation and removal of the directory untimed). Throughput is
// archive bytes per second.
func BenchmarkExtract(b *testing.B) {
	data := benchArchive(b)
	base := b.TempDir()
	opt := extract.Options{Owners: os.Geteuid() == 0}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		dir := filepath.Join(base, fmt.Sprint(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := extract.Extract(context.Background(), bytes.NewReader(data), dir, opt)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if st.Files != 2004 || st.Hardlinks != 50 || st.Symlinks != 50 {
			b.Fatalf("extracted %+v", st)
		}
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
