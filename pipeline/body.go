package pipeline

import (
	"io"
	"os"
)

// bodyReader yields exactly size bytes of a file followed by the tar
// padding, whatever happens to the file meanwhile: a file that shrank or
// could not be read to the end is zero-filled, one that grew is cut. The
// stream thus always matches the header already written; short reports
// that the content is not what the file held.
type bodyReader struct {
	f     *os.File
	left  int64 // bytes of the file still to deliver
	pad   int64
	short bool
	err   error // the read error that made the body short, if any
}

func newBodyReader(f *os.File, size int64) *bodyReader {
	return &bodyReader{f: f, left: size, pad: padding(size)}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	switch {
	case b.left > 0:
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		if b.short {
			clear(p)
			b.left -= int64(len(p))
			return len(p), nil
		}
		n, err := b.f.Read(p)
		b.left -= int64(n)
		if err != nil || n == 0 {
			b.short = true
			if err != io.EOF {
				b.err = err
			}
		}
		return n, nil
	case b.pad > 0:
		if int64(len(p)) > b.pad {
			p = p[:b.pad]
		}
		clear(p)
		b.pad -= int64(len(p))
		return len(p), nil
	}
	return 0, io.EOF
}
