package pipeline

import (
	"archive/tar"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restic/chunker"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/golden"
)

// vectorDir holds the format's known-answer vectors (doc/format.md).
const vectorDir = "../testdata/vectors"

// Issue 19: chunk boundaries for a fixed polynomial, the default chunking
// parameters and deterministic input, cut as the pipeline cuts large
// bodies. A change in the chunker library that moved a boundary would stop
// deduplication against every stored chunk.
func TestVectorChunkBoundaries(t *testing.T) {
	const pol = chunker.Pol(0x3dea92648f6e83)
	input := make([]byte, 24<<20)
	rand.NewChaCha8([32]byte([]byte("pocketsnap chunker vector seed!!"))).Read(input)
	var out strings.Builder
	fmt.Fprintf(&out, "# Chunks of 24 MiB of ChaCha8 output (seed %q), polynomial %#x,\n", "pocketsnap chunker vector seed!!", uint64(pol))
	ch := chunkstore.DefaultChunking
	fmt.Fprintf(&out, "# min %d, max %d, average bits %d: offset, length, cut fingerprint\n", ch.MinSize, ch.MaxSize, ch.AverageBits)
	for _, c := range cutChunks(t, input, pol, ch) {
		fmt.Fprintf(&out, "%d %d %#x\n", c.Start, c.Length, c.Cut)
	}
	golden.Check(t, filepath.Join(vectorDir, "chunk-boundaries.txt"), []byte(out.String()))
}

// cutChunks cuts b with the chunker set up as produce.go sets it up.
func cutChunks(t *testing.T, b []byte, pol chunker.Pol, ch chunkstore.Chunking) []chunker.Chunk {
	c := chunker.NewWithBoundaries(bytes.NewReader(b), pol, uint(ch.MinSize), uint(ch.MaxSize))
	c.SetAverageBits(ch.AverageBits)
	var chunks []chunker.Chunk
	for {
		k, err := c.Next(nil)
		if err == io.EOF {
			return chunks
		}
		if err != nil {
			t.Fatal(err)
		}
		k.Data = nil
		chunks = append(chunks, k)
	}
}

// Issue 19: the tar header bytes of a few entries, as the stream holds
// them (archive/tar, PAX format, built the way tarHeader builds them). A Go
// release that encoded them differently would change every header blob.
func TestVectorTarHeaders(t *testing.T) {
	mtime := time.Unix(1764388800, 123456789)
	headers := []*tar.Header{
		{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime},
		{Name: "etc/hostname", Typeflag: tar.TypeReg, Mode: 0o644, Size: 6, ModTime: mtime},
		{Name: "usr/bin/tool", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1000, Gid: 1000, Size: 20, ModTime: time.Unix(1764388800, 0)},
		{Name: "usr/hostname-abs", Typeflag: tar.TypeSymlink, Mode: 0o777, Linkname: "/etc/hostname", ModTime: mtime},
		{Name: "var/shared-b", Typeflag: tar.TypeLink, Mode: 0o644, Linkname: "var/shared-a", ModTime: mtime},
		{Name: "var/pipe", Typeflag: tar.TypeFifo, Mode: 0o600, ModTime: mtime},
		{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: mtime},
		{Name: strings.Repeat("long-name/", 12) + "file", Typeflag: tar.TypeReg, Mode: 0o600, Size: 1, ModTime: mtime,
			PAXRecords: map[string]string{"SCHILY.xattr.user.comment": "hello", "SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}},
	}
	var out strings.Builder
	out.WriteString("# Tar headers as the stream holds them (PAX, archive/tar), one entry each, in hex.\n")
	for _, h := range headers {
		h.Format = tar.FormatPAX
		b, err := renderHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "# %s (%d bytes)\n", h.Name, len(b))
		for len(b) > 0 {
			n := min(64, len(b))
			out.WriteString(hex.EncodeToString(b[:n]) + "\n")
			b = b[n:]
		}
	}
	golden.Check(t, filepath.Join(vectorDir, "tar-headers.txt"), []byte(out.String()))
}
