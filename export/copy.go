package export

import (
	"bufio"
	"io"
)

// copyBufSize is how much of the archive one stage hands to the next at a
// time.
const copyBufSize = 1 << 20

// copyAsync copies r to w with reading and writing in two goroutines, so
// that verifying the blobs (r) and encrypting, hashing and writing the
// archive (w) run on two cores: a double buffer of copyBufSize between
// them. It returns the bytes copied and the first error of either side.
func copyAsync(w io.Writer, r io.Reader) (int64, error) {
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := io.CopyBuffer(w, pr, make([]byte, copyBufSize))
		pr.CloseWithError(err) // unblocks the reading side on failure
		errc <- err
	}()
	bw := bufio.NewWriterSize(pw, copyBufSize)
	n, err := io.Copy(bw, r)
	if err == nil {
		err = bw.Flush()
	}
	pw.CloseWithError(err) // nil: the writing side sees io.EOF
	if werr := <-errc; werr != nil {
		return n, werr
	}
	return n, err
}
