package pipeline

import "sync/atomic"

// Progress counts a running operation's work. Its fields are updated
// atomically and may be read by another goroutine at any time.
type Progress struct {
	// Entries is the number of tar entries produced or extracted.
	Entries atomic.Int64
	// Bytes is the number of stream bytes processed.
	Bytes atomic.Int64
}

func (p *Progress) addStream(n int64) { p.Bytes.Add(n) }
