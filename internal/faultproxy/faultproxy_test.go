package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoServer echoes every connection's bytes back until the client
// half-closes, then closes. It stops when the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func newProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// echo sends msg on a fresh connection, half-closes and returns what came
// back and the error that ended reading (nil for a clean EOF).
func echo(t *testing.T, p *Proxy, msg []byte) ([]byte, error) {
	t.Helper()
	c := dial(t, p)
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	c.CloseWrite()
	return io.ReadAll(c)
}

func message(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// closeStats closes p, after which its counters are final.
func closeStats(t *testing.T, p *Proxy) Stats {
	t.Helper()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return p.Stats()
}

func TestForwardCounts(t *testing.T) {
	p := newProxy(t)
	msgs := [][]byte{message(1), message(100_000), message(70_000)}
	var total int64
	for _, m := range msgs {
		got, err := echo(t, p, m)
		if err != nil {
			t.Fatalf("echo of %d bytes: %v", len(m), err)
		}
		if !bytes.Equal(got, m) {
			t.Fatalf("echo of %d bytes came back as %d different bytes", len(m), len(got))
		}
		total += int64(len(m))
	}
	want := Stats{Accepted: 3, Up: total, Down: total}
	if got := closeStats(t, p); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestResetAfterUp(t *testing.T) {
	p := newProxy(t)
	p.Next(1, Fault{After: 1000, Reset: true})
	got, err := echo(t, p, message(5000))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading from a reset connection: err = %v, want ECONNRESET", err)
	}
	if len(got) > 1000 {
		t.Errorf("read %d bytes back, but only 1000 went up", len(got))
	}
	// Next(1) is used up: the following connection is whole.
	if got, err := echo(t, p, message(5000)); err != nil || len(got) != 5000 {
		t.Fatalf("second connection: %d bytes, %v; want 5000 bytes, no error", len(got), err)
	}
	st := closeStats(t, p)
	if st.Up != 1000+5000 || st.Resets != 1 || st.Accepted != 2 {
		t.Errorf("stats = %+v, want Up 6000, Resets 1, Accepted 2", st)
	}
}

func TestResetAfterDown(t *testing.T) {
	p := newProxy(t)
	p.Every(1, Fault{Dir: Down, After: 300, Reset: true})
	got, err := echo(t, p, message(4000))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading from a reset connection: err = %v, want ECONNRESET", err)
	}
	if !bytes.Equal(got, message(4000)[:len(got)]) || len(got) > 300 {
		t.Errorf("read %d bytes back, want a prefix of at most 300", len(got))
	}
	st := closeStats(t, p)
	if st.Down != 300 || st.Resets != 1 {
		t.Errorf("stats = %+v, want Down 300, Resets 1", st)
	}
}

func TestEvery(t *testing.T) {
	p := newProxy(t)
	p.Every(3, Fault{Reset: true})
	msg := message(10)
	for i := 1; i <= 7; i++ {
		got, err := echo(t, p, msg)
		faulted := i%3 == 0
		if faulted != (err != nil) {
			t.Errorf("connection %d: err = %v, want an error: %v", i, err, faulted)
		}
		if !faulted && !bytes.Equal(got, msg) {
			t.Errorf("connection %d: echoed %q, want %q", i, got, msg)
		}
	}
	p.Clear()
	if _, err := echo(t, p, msg); err != nil {
		t.Errorf("after Clear: %v", err)
	}
	st := closeStats(t, p)
	want := Stats{Accepted: 8, Up: 6 * 10, Down: 6 * 10, Resets: 2}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
}

func TestStallForever(t *testing.T) {
	p := newProxy(t)
	p.Next(1, Fault{Dir: Down, After: 100, Stall: Forever})
	c := dial(t, p)
	msg := message(200)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 100)
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg[:100]) {
		t.Fatalf("the 100 bytes before the stall: %v", err)
	}
	// Nothing more comes back while the connection stalls.
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(got); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read during the stall: %d bytes, %v; want a timeout", n, err)
	}
	// Close ends the stall; the connection is closed, not resumed.
	st := closeStats(t, p)
	c.SetReadDeadline(time.Time{})
	if n, err := c.Read(got); err == nil {
		t.Errorf("read after Close: %d bytes, no error", n)
	}
	if st.Down != 100 || st.Stalls != 1 || st.Resets != 0 {
		t.Errorf("stats = %+v, want Down 100, Stalls 1, Resets 0", st)
	}
}

func TestStallResumes(t *testing.T) {
	p := newProxy(t)
	p.Next(1, Fault{After: 100, Stall: 50 * time.Millisecond})
	msg := message(50_000)
	got, err := echo(t, p, msg)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo through a stall: %d bytes, %v", len(got), err)
	}
	st := closeStats(t, p)
	if st.Up != 50_000 || st.Down != 50_000 || st.Stalls != 1 {
		t.Errorf("stats = %+v, want Up and Down 50000, Stalls 1", st)
	}
}

func TestStallThenReset(t *testing.T) {
	p := newProxy(t)
	p.Next(1, Fault{After: 10, Stall: 10 * time.Millisecond, Reset: true})
	if _, err := echo(t, p, message(20)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v, want ECONNRESET", err)
	}
	st := closeStats(t, p)
	if st.Up != 10 || st.Stalls != 1 || st.Resets != 1 {
		t.Errorf("stats = %+v, want Up 10, Stalls 1, Resets 1", st)
	}
}
