package pipeline

import (
	"io"
	"sync/atomic"
)

// Progress counts a running operation's work. Its fields are updated
// atomically and may be read by another goroutine at any time.
type Progress struct {
	// Entries is the number of tar entries produced or extracted.
	Entries atomic.Int64
	// Bytes is the number of stream bytes processed.
	Bytes atomic.Int64
}

func (p *Progress) addStream(n int64) { p.Bytes.Add(n) }

// Reader returns r, counting the bytes read through it in p.Bytes.
func (p *Progress) Reader(r io.Reader) io.Reader { return progressReader{r, p} }

type progressReader struct {
	r io.Reader
	p *Progress
}

func (pr progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.Bytes.Add(int64(n))
	return n, err
}
