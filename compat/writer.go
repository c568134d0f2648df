package compat

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// A Sealer encrypts: what is written to the writer Seal returns reaches w
// encrypted, and Close finishes it. A repository's chunkstore.Codec is one
// (it seals to the repository's age recipients).
type Sealer interface {
	Seal(w io.Writer) (io.WriteCloser, error)
}

// Options configure a [Writer].
type Options struct {
	// PartSize is the largest file the Writer creates (default
	// DefaultPartSize, and never more than the filesystem holds: 4 GiB
	// less one byte on FAT32). A longer archive is written as parts of exactly
	// PartSize bytes, the last one shorter.
	PartSize int64
	// Seal, when set, encrypts the archive; otherwise it is written as
	// given.
	Seal Sealer
}

// Writer writes one classic archive into a directory: Write takes the
// .tar.zst bytes, Commit puts the archive (or its parts) and its sidecar
// in place under their final names, Abort removes everything written.
// Until Commit succeeds nothing exists under a final name. A Writer is not
// safe for concurrent use.
type Writer struct {
	in   *bufio.Writer
	seal io.WriteCloser // nil when not encrypting
	out  *splitter
	err  error
}

// Written describes a committed archive.
type Written struct {
	// Path is the archive's path. When it was split, it does not exist
	// and Files are its parts.
	Path string
	// Files are the files holding the archive: Path, or its parts in order.
	Files []string
	// Sidecar is the path of the sidecar.
	Sidecar string
	// PlainSidecar, for an encrypted archive named *.age, is the path of
	// the sidecar of the decrypted archive: name.tar.zst.sha256 beside
	// name.tar.zst.age.sha256, so that `sha256sum -c` checks what `age -d`
	// gives back.
	PlainSidecar string
	// Size is the archive's size (of all parts together).
	Size int64
	// SHA256 is the hex SHA-256 of the whole archive.
	SHA256 string
}

// bufSize is how much of the input is gathered before it is encrypted or
// written: frames of tar headers are a few dozen bytes each.
const bufSize = 256 << 10

// NewWriter starts an archive in dir, creating dir if needed, after
// removing the temporary files of killed writers there ([RemoveStale]).
func NewWriter(dir string, opt Options) (*Writer, error) {
	if opt.PartSize <= 0 {
		opt.PartSize = DefaultPartSize
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create directory for the archive: %w", err)
	}
	if _, err := RemoveStale(dir); err != nil {
		return nil, err
	}
	// FAT32 (an SD card) holds no file of 4 GiB: smaller parts there.
	if limit := maxFileSize(dir); limit > 0 && opt.PartSize > limit {
		opt.PartSize = limit
	}
	w := &Writer{out: &splitter{dir: dir, limit: opt.PartSize, whole: sha256.New()}}
	var dst io.Writer = w.out
	if opt.Seal != nil {
		sw, err := opt.Seal.Seal(w.out)
		if err != nil {
			w.Abort()
			return nil, fmt.Errorf("failed to start encrypting the archive: %w", err)
		}
		w.seal = sw
		w.out.plain = sha256.New()
		dst = io.MultiWriter(sw, w.out.plain)
	}
	w.in = bufio.NewWriterSize(dst, bufSize)
	return w, nil
}

// Write adds bytes of the .tar.zst. After an error, every call fails.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.in.Write(p)
	w.err = err
	return n, err
}

// Commit finishes the archive and renames it into place as dir/name (or
// dir/name.part-NNN), then, when encrypted, the sidecar of the decrypted
// archive (dir/name without .age, .sha256), and its sidecar
// dir/name.sha256 last. It
// fails, leaving nothing under those names, if any of them exists
// already. On failure the Writer is aborted.
func (w *Writer) Commit(name string) (*Written, error) {
	if w.err == nil {
		w.err = w.in.Flush()
	}
	if w.err == nil && w.seal != nil {
		if err := w.seal.Close(); err != nil {
			w.err = fmt.Errorf("failed to finish encrypting the archive: %w", err)
		}
	}
	var res *Written
	if w.err == nil {
		res, w.err = w.out.commit(filepath.Join(w.out.dir, filepath.Base(name)))
	}
	if w.err != nil {
		w.Abort()
		return nil, w.err
	}
	return res, nil
}

// Abort removes what the Writer wrote, unless Commit succeeded. It may be
// called more than once.
func (w *Writer) Abort() {
	if w.err == nil {
		w.err = errAborted
	}
	w.out.abort()
}
