package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// FileIndex is a file index being built one entry at a time, held as
// zstd-compressed JSON: a backup of very many files keeps a few dozen
// bytes per entry instead of a File and its strings. Set it on the
// details with [Details.SetFileIndex]; [Write] streams it out exactly as
// it would write the same entries from Details.Files. The zero FileIndex
// is empty and ready to use. It is not safe for concurrent use.
type FileIndex struct {
	buf  blocks
	zw   *zstd.Encoder
	n    int
	done bool
}

// Add appends f to the index. It fails once the index has been written.
func (x *FileIndex) Add(f *File) error {
	if x.done {
		return errors.New("file index already written")
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("file index entry %q: %w", f.Path, err)
	}
	if x.zw == nil {
		// Neighbouring entries share their directories, so a small window
		// finds most of what there is to find.
		x.zw, err = zstd.NewWriter(&x.buf, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(256<<10))
		if err != nil {
			return err
		}
	}
	if x.n > 0 {
		b = append([]byte{','}, b...)
	}
	if _, err := x.zw.Write(b); err != nil {
		return fmt.Errorf("file index entry %q: %w", f.Path, err)
	}
	x.n++
	return nil
}

// Len returns the number of entries added.
func (x *FileIndex) Len() int { return x.n }

// writeJSON writes the index as a JSON array. No entry can be added after.
func (x *FileIndex) writeJSON(w io.Writer) error {
	if !x.done && x.zw != nil {
		if err := x.zw.Close(); err != nil {
			return fmt.Errorf("failed to compress the file index: %w", err)
		}
	}
	x.done = true
	if _, err := w.Write([]byte{'['}); err != nil {
		return err
	}
	if len(x.buf) > 0 {
		zr, err := zstd.NewReader(x.buf.reader(), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return err
		}
		defer zr.Close()
		if _, err := io.Copy(w, zr); err != nil {
			return fmt.Errorf("failed to read the file index back: %w", err)
		}
	}
	_, err := w.Write([]byte{']'})
	return err
}

// blocks is a growing buffer kept in blocks of a fixed size, so that it
// never holds more than one block of spare room, nor a second copy of
// itself while it grows.
type blocks [][]byte

const blockSize = 64 << 10

func (b *blocks) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(*b) == 0 || len((*b)[len(*b)-1]) == blockSize {
			*b = append(*b, make([]byte, 0, blockSize))
		}
		last := &(*b)[len(*b)-1]
		k := min(len(p), blockSize-len(*last))
		*last = append(*last, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

// reader reads what was written.
func (b blocks) reader() io.Reader {
	rs := make([]io.Reader, len(b))
	for i, blk := range b {
		rs[i] = bytes.NewReader(blk)
	}
	return io.MultiReader(rs...)
}
