package extract

import (
	"bytes"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// holeBlock is the size of the blocks of zeros that copyHoles leaves as
// holes: the block size of the usual file systems.
const holeBlock = 4 << 10

var zeroBlock [holeBlock]byte

// copyHoles writes the n bytes r holds into the new, empty file open as
// fd, through buf (copyBuf, a multiple of holeBlock, long). A block of holeBlock zero bytes,
// aligned in the file, is not written but left as a hole; the file's size
// is set at the end, in case it ends in one. It returns how many bytes it
// read.
func copyHoles(fd int, r io.Reader, n int64, buf []byte) (int64, error) {
	var off int64
	holes := false
	for off < n {
		k, err := io.ReadFull(r, buf[:min(int64(len(buf)), n-off)])
		chunk := buf[:k]
		start := 0 // of the data not written yet
		for b := 0; b < len(chunk); b += holeBlock {
			block := chunk[b:min(b+holeBlock, len(chunk))]
			if !bytes.Equal(block, zeroBlock[:len(block)]) {
				continue
			}
			if werr := writeAt(fd, chunk[start:b], off+int64(start)); werr != nil {
				return off + int64(b), werr
			}
			start, holes = b+len(block), true
		}
		if werr := writeAt(fd, chunk[start:], off+int64(start)); werr != nil {
			return off + int64(start), werr
		}
		off += int64(k)
		if err != nil {
			return off, err
		}
	}
	if holes {
		if err := unix.Ftruncate(fd, n); err != nil {
			return off, fmt.Errorf("set size: %w", err)
		}
	}
	return off, nil
}

// writeAt writes all of p at offset off of fd, retrying after a signal.
func writeAt(fd int, p []byte, off int64) error {
	for len(p) > 0 {
		k, err := unix.Pwrite(fd, p, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if k == 0 {
			return io.ErrShortWrite
		}
		p, off = p[k:], off+int64(k)
	}
	return nil
}
