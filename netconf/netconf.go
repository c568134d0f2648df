package netconf

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// EtcResolvConf is where Go's resolver reads its configuration.
const EtcResolvConf = "/etc/resolv.conf"

// Config says where to look. Every field is injectable so that tests can
// play Android on any machine; [FromEnv] fills it for the running process.
type Config struct {
	// DNSServers is the S3_DNS_SERVERS key: nameserver addresses ("ip" or
	// "ip:port"), comma or space separated. Set, it overrides both files.
	DNSServers string
	// EtcResolvConf is normally [EtcResolvConf].
	EtcResolvConf string
	// Prefix is Termux's $PREFIX ("" outside Termux).
	Prefix string
	// SSLCertFile is $SSL_CERT_FILE.
	SSLCertFile string
}

// FromEnv is the configuration of the running process, with dnsServers
// the value of the S3_DNS_SERVERS key ("" when unset).
func FromEnv(dnsServers string) Config {
	return Config{
		DNSServers:    dnsServers,
		EtcResolvConf: EtcResolvConf,
		Prefix:        os.Getenv("PREFIX"),
		SSLCertFile:   os.Getenv("SSL_CERT_FILE"),
	}
}

// TermuxResolvConf is Termux's resolv.conf below prefix.
func TermuxResolvConf(prefix string) string {
	return filepath.Join(prefix, "etc", "resolv.conf")
}

// Resolver returns the resolver to use and where its servers come from
// (for `config` and error messages). It returns net.DefaultResolver when
// /etc/resolv.conf exists and S3_DNS_SERVERS is unset.
func (c Config) Resolver() (*net.Resolver, string, error) {
	if c.DNSServers != "" {
		servers, err := parseServers(strings.FieldsFunc(c.DNSServers, func(r rune) bool { return r == ',' || r == ' ' }))
		if err != nil {
			return nil, "", fmt.Errorf("S3_DNS_SERVERS: %w", err)
		}
		return resolverFor(servers), "S3_DNS_SERVERS", nil
	}
	if _, err := os.Stat(c.EtcResolvConf); err == nil {
		return net.DefaultResolver, c.EtcResolvConf, nil
	}
	termux := TermuxResolvConf(c.Prefix)
	if c.Prefix != "" {
		servers, err := readResolvConf(termux)
		if err == nil {
			return resolverFor(servers), termux, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("no DNS servers: neither %s nor %s exists (set S3_DNS_SERVERS, e.g. S3_DNS_SERVERS=1.1.1.1,9.9.9.9)", c.EtcResolvConf, termux)
}

// readResolvConf returns the nameservers of a resolv.conf.
func readResolvConf(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read DNS servers: %w", err)
	}
	var addrs []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "nameserver" {
			addrs = append(addrs, f[1])
		}
	}
	servers, err := parseServers(addrs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("%s names no nameserver", path)
	}
	return servers, nil
}

// parseServers turns "ip" or "ip:port" into host:port addresses.
func parseServers(addrs []string) ([]string, error) {
	var out []string
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil {
			out = append(out, net.JoinHostPort(ip.String(), "53"))
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil || net.ParseIP(host) == nil {
			return nil, fmt.Errorf("nameserver %q is not an IP address or IP:port", a)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}

// resolverFor is Go's resolver sending its queries to servers: each dial
// takes the next in turn that has not failed, so the resolver's retry
// after a server that refuses or does not answer goes to another one. A
// server is marked failed when its dial or a read from it fails; the A and
// AAAA queries run at once and share the turn, so without the mark a
// query's retry could land on the failed server again. When every server
// has failed, the turn goes on through all of them.
func resolverFor(servers []string) *net.Resolver {
	var next atomic.Uint32
	failed := make([]atomic.Bool, len(servers))
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			start := int(next.Add(1) - 1)
			i := start % len(servers)
			for k := range servers {
				if j := (start + k) % len(servers); !failed[j].Load() {
					i = j
					break
				}
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, servers[i])
			if err != nil {
				failed[i].Store(true)
				return nil, err
			}
			if u, ok := c.(*net.UDPConn); ok {
				// Still a net.PacketConn, so the resolver keeps to UDP's framing.
				return &markingUDPConn{UDPConn: u, failed: &failed[i]}, nil
			}
			return c, nil
		},
	}
}

// markingUDPConn marks its server failed when a read fails (refused, or
// no answer before the resolver's deadline).
type markingUDPConn struct {
	*net.UDPConn
	failed *atomic.Bool
}

// Read reads an answer, marking the server failed on an error.
func (c *markingUDPConn) Read(b []byte) (int, error) {
	n, err := c.UDPConn.Read(b)
	if err != nil {
		c.failed.Store(true)
	}
	return n, err
}

// TermuxCertFile is Termux's CA bundle below prefix.
func TermuxCertFile(prefix string) string {
	return filepath.Join(prefix, "etc", "tls", "cert.pem")
}

// RootsFile returns the CA bundle to trust: SSL_CERT_FILE when set, else
// Termux's bundle when it exists, else "" (the system's roots).
func (c Config) RootsFile() string {
	if c.SSLCertFile != "" {
		return c.SSLCertFile
	}
	if c.Prefix != "" {
		if f := TermuxCertFile(c.Prefix); fileExists(f) {
			return f
		}
	}
	return ""
}

// Roots returns the certificate pool RootsFile names, or nil (meaning the
// system's roots) when it names none.
func (c Config) Roots() (*x509.CertPool, error) {
	f := c.RootsFile()
	if f == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("failed to read the TLS roots: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("TLS roots %s hold no PEM certificate", f)
	}
	return pool, nil
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
