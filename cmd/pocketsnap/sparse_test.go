package main

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// sparseSize is the apparent size of the sparse files below.
const sparseSize = 64 << 20

// sparseSource makes c.dir/src holding disk.img (see makeSparse), and
// returns its content and the bytes it takes on disk. It skips the test
// where the file system keeps no holes.
func sparseSource(t *testing.T, c *cli) (string, []byte, int64) {
	t.Helper()
	src := filepath.Join(c.dir, "src")
	os.Mkdir(src, 0o755)
	want := makeSparse(t, filepath.Join(src, "disk.img"))
	orig := diskBytes(t, filepath.Join(src, "disk.img"))
	if orig >= sparseSize/4 {
		t.Skipf("the file system under %s keeps no holes (%d bytes on disk)", src, orig)
	}
	return src, want, orig
}

// makeSparse writes a 64 MiB file with three small data regions, the rest
// holes, and returns its content.
func makeSparse(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := make([]byte, sparseSize)
	for i, off := range []int64{0, 20<<20 + 123, sparseSize - 4096} {
		data := bytes.Repeat([]byte{byte('a' + i)}, 4096)
		copy(want[off:], data)
		if _, err := f.WriteAt(data, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(sparseSize); err != nil {
		t.Fatal(err)
	}
	return want
}

// diskBytes returns the bytes a file takes on disk (st_blocks).
func diskBytes(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// checkSparse fails unless path holds want and takes no more disk than
// the original, which had its holes.
func checkSparse(t *testing.T, path string, want []byte, orig int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("%s: content differs (%d bytes, %v)", path, len(b), err)
	}
	if got := diskBytes(t, path); got > orig+64<<10 {
		t.Errorf("%s takes %d bytes on disk, the original %d: its holes were filled", path, got, orig)
	}
}

// Issue 18.10: a snapshot restores a sparse file with its holes, compared
// by st_blocks with the original.
func TestSnapshotRestoresHoles(t *testing.T) {
	c := newCLI(t)
	src, want, orig := sparseSource(t, c)
	c.mustRun("backup", "files", "--source", src)
	c.mustRun("restore", c.snapshots()[0], "--target", filepath.Join(c.dir, "out"))
	checkSparse(t, filepath.Join(c.dir, "out", "disk.img"), want, orig)
}

// Issue 18.10: classic archives with GNU tar sparse members, made by GNU
// tar --sparse in the old GNU format ('S' members) and in the PAX formats
// 0.1 and 1.0, pass verify-archive and restore with their holes.
func TestArchiveSparseMembers(t *testing.T) {
	testenv.NeedTools(t, "tar", "zstd", "sha256sum", "bash")
	c := newCLI(t)
	_, want, orig := sparseSource(t, c)
	for i, f := range []struct{ flags, isSparse string }{
		{"--format=gnu", `test "$(head -c 157 | tail -c 1)" = S`}, // the old GNU sparse type flag
		{"--format=posix --sparse-version=0.1", "head -c 4096 | grep -aq GNU.sparse.map"},
		{"--format=posix --sparse-version=1.0", "head -c 4096 | grep -aq GNU.sparse.major=1"},
	} {
		name := "db-2026110" + string(rune('1'+i)) + "T040000Z.tar.zst"
		sh(t, c.dir, "tar --sparse "+f.flags+" --zstd -cf "+name+" -C src disk.img && sha256sum "+name+" > "+name+".sha256")
		// The archive really holds a sparse member: a tar stream far
		// smaller than the file, with the format's sparse header.
		sh(t, c.dir, "zstd -q -dc "+name+" > stream.tar && test $(wc -c < stream.tar) -lt 1048576 && { "+f.isSparse+"; } < stream.tar")
		c.mustRun("verify-archive", filepath.Join(c.dir, name))
		out := filepath.Join(c.dir, "out"+string(rune('1'+i)))
		c.mustRun("restore", "--archive", filepath.Join(c.dir, name), "--target", out)
		checkSparse(t, filepath.Join(out, "disk.img"), want, orig)
	}
}
