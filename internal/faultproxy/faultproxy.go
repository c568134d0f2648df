// Package faultproxy is a TCP proxy for tests that injects network
// faults between a client and a server on this machine: connections
// reset after a number of bytes, connections that stall.
//
// The proxy forwards bytes and nothing else, so it is transparent to TLS:
// a client that verifies the server's certificate for 127.0.0.1 connects
// to the proxy's [Proxy.Addr] instead of the server's and sees the same
// server.
//
// A [Fault] is chosen for each connection when it is accepted, by the
// rule last set with [Proxy.Every] or [Proxy.Next]; connections already
// open keep what they had. [Proxy.Stats] counts connections, bytes and
// faults that struck, so a test can check that its fault happened.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Direction is a direction in which the proxy forwards bytes.
type Direction int

const (
	// Up is from the client to the upstream server.
	Up Direction = iota
	// Down is from the upstream server to the client.
	Down
)

// Forever as a [Fault]'s Stall stalls the connection until the proxy is
// closed.
const Forever time.Duration = -1

// Fault is what happens to a connection once After bytes have been
// forwarded on it in direction Dir: first it stalls, if Stall is set,
// then it is reset, if Reset is set. The zero Fault does nothing.
type Fault struct {
	// Dir is the direction whose bytes After counts (Up by default).
	Dir Direction
	// After is the number of bytes forwarded in Dir before the fault
	// strikes; with 0 it strikes when the first bytes arrive in Dir.
	After int64
	// Stall, if non-zero, stops forwarding in both directions for this
	// long, or until the proxy is closed with [Forever]. Bytes are not
	// read from either side meanwhile, so senders block once the socket
	// buffers are full.
	Stall time.Duration
	// Reset, if set, resets both the client's and the upstream
	// connection (TCP RST, not an orderly close).
	Reset bool
}

// Stats are the proxy's counters since it started.
type Stats struct {
	// Accepted is the number of client connections accepted.
	Accepted int64
	// Up and Down are the bytes forwarded (written to the other side)
	// from clients to upstream and back.
	Up, Down int64
	// Stalls and Resets count the faults that struck.
	Stalls, Resets int64
}

// Proxy is a TCP proxy listening on 127.0.0.1. Its methods are safe for
// concurrent use.
type Proxy struct {
	upstream string
	ln       net.Listener
	closed   chan struct{} // closed by Close
	wg       sync.WaitGroup

	mu    sync.Mutex
	rule  rule
	conns map[*conn]struct{}

	accepted, stalls, resets atomic.Int64
	bytes                    [2]atomic.Int64 // by Direction
}

// rule picks the faults of new connections.
type rule struct {
	fault Fault
	every int // apply to every every-th connection, if > 0
	next  int // apply to this many next connections
	seen  int // connections accepted since the rule was set
}

// New starts a proxy on 127.0.0.1 (a free port) to the upstream address
// host:port. It forwards without faults until told otherwise.
func New(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("failed to listen for a proxy to %s: %w", upstream, err)
	}
	p := &Proxy{upstream: upstream, ln: ln, closed: make(chan struct{}), conns: map[*conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr returns the address clients connect to, 127.0.0.1:PORT.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Every applies f to every k-th connection accepted from now on (the
// k-th, the 2k-th, …); Every(1, f) applies it to all. It panics if k < 1.
func (p *Proxy) Every(k int, f Fault) {
	if k < 1 {
		panic(fmt.Sprintf("faultproxy: Every(%d): k must be at least 1", k))
	}
	p.setRule(rule{fault: f, every: k})
}

// Next applies f to the next n connections accepted, then none.
func (p *Proxy) Next(n int, f Fault) { p.setRule(rule{fault: f, next: n}) }

// Clear stops applying faults to new connections.
func (p *Proxy) Clear() { p.setRule(rule{}) }

func (p *Proxy) setRule(r rule) {
	p.mu.Lock()
	p.rule = r
	p.mu.Unlock()
}

// Stats returns the counters. Bytes are counted once written to the
// other side, so after [Proxy.Close] returns they are exact.
func (p *Proxy) Stats() Stats {
	return Stats{
		Accepted: p.accepted.Load(),
		Up:       p.bytes[Up].Load(),
		Down:     p.bytes[Down].Load(),
		Stalls:   p.stalls.Load(),
		Resets:   p.resets.Load(),
	}
}

// Close stops accepting, closes every open connection (ending any stall)
// and waits until all of the proxy's goroutines have returned. Later
// calls do nothing.
func (p *Proxy) Close() error {
	p.mu.Lock()
	select {
	case <-p.closed:
		p.mu.Unlock()
		return nil
	default:
	}
	close(p.closed)
	err := p.ln.Close()
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			select {
			case <-p.closed:
				return
			case <-time.After(10 * time.Millisecond): // out of file descriptors, say
				continue
			}
		}
		p.accepted.Add(1)
		p.mu.Lock()
		select {
		case <-p.closed:
			p.mu.Unlock()
			client.Close()
			return
		default:
		}
		c := &conn{p: p, client: client.(*net.TCPConn), fault: p.rule.pick()}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go c.run()
	}
}

// pick returns the fault for the connection just accepted.
func (r *rule) pick() *Fault {
	r.seen++
	switch {
	case r.every > 0 && r.seen%r.every == 0:
	case r.next > 0:
		r.next--
	default:
		return nil
	}
	f := r.fault
	return &f
}

// conn is one proxied connection.
type conn struct {
	p        *Proxy
	client   *net.TCPConn
	upstream *net.TCPConn
	fault    *Fault // nil for none; read only by the pump of fault.Dir

	mu      sync.Mutex
	release chan struct{} // while stalled, closed when the stall ends
}

func (c *conn) run() {
	defer c.p.wg.Done()
	defer c.forget()
	up, err := net.DialTimeout("tcp", c.p.upstream, 10*time.Second)
	if err != nil {
		c.client.Close()
		return
	}
	c.mu.Lock()
	c.upstream = up.(*net.TCPConn)
	c.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.pump(c.upstream, c.client, Up) }()
	go func() { defer wg.Done(); c.pump(c.client, c.upstream, Down) }()
	wg.Wait()
	c.close()
}

// forget removes c from the proxy's open connections.
func (c *conn) forget() {
	c.p.mu.Lock()
	delete(c.p.conns, c)
	c.p.mu.Unlock()
}

// pump forwards bytes from src to dst, striking c's fault when it is due.
// It returns at EOF (after passing the half-close on) or at an error
// (after closing both sides, so that the other pump returns too).
func (c *conn) pump(dst, src *net.TCPConn, dir Direction) {
	f := c.fault
	if f != nil && f.Dir != dir {
		f = nil
	}
	var sent int64
	buf := make([]byte, 32<<10)
	for {
		n, rerr := src.Read(buf)
		for data := buf[:n]; len(data) > 0; {
			if !c.wait() {
				return
			}
			k := len(data)
			if f != nil {
				k = int(min(int64(k), f.After-sent))
			}
			if k > 0 {
				w, err := dst.Write(data[:k])
				sent += int64(w)
				c.p.bytes[dir].Add(int64(w))
				if err != nil {
					c.close()
					return
				}
				data = data[k:]
			}
			if f != nil && sent == f.After {
				if !c.strike(f) {
					return
				}
				f = nil
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				dst.CloseWrite()
			} else {
				c.close()
			}
			return
		}
	}
}

// strike applies f. It reports whether forwarding goes on.
func (c *conn) strike(f *Fault) bool {
	if f.Stall != 0 {
		c.p.stalls.Add(1)
		release := make(chan struct{})
		c.mu.Lock()
		c.release = release
		c.mu.Unlock()
		if f.Stall != Forever {
			time.AfterFunc(f.Stall, func() {
				c.mu.Lock()
				c.release = nil
				c.mu.Unlock()
				close(release)
			})
		}
		if !c.wait() {
			return false
		}
	}
	if f.Reset {
		c.p.resets.Add(1)
		c.client.SetLinger(0)
		c.upstream.SetLinger(0)
		c.close()
		return false
	}
	return true
}

// wait blocks while the connection is stalled. It reports false if the
// proxy was closed meanwhile.
func (c *conn) wait() bool {
	c.mu.Lock()
	release := c.release
	c.mu.Unlock()
	if release == nil {
		return true
	}
	select {
	case <-release:
		return true
	case <-c.p.closed:
		return false
	}
}

// close closes both sides of the connection.
func (c *conn) close() {
	c.client.Close()
	c.mu.Lock()
	up := c.upstream
	c.mu.Unlock()
	if up != nil {
		up.Close()
	}
}
