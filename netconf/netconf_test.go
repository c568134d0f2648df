package netconf

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsStub answers every A question with ip on a UDP port of 127.0.0.1 and
// counts the queries it answered.
func dnsStub(t *testing.T, ip [4]byte) (addr string, queries *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	queries = new(atomic.Int32)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.EnableCompression()
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if q.Type == dnsmessage.TypeA {
				_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: ip})
				queries.Add(1)
			}
			msg, err := b.Finish()
			if err == nil {
				_, _ = pc.WriteTo(msg, from)
			}
		}
	}()
	return pc.LocalAddr().String(), queries
}

// android is a Config for a machine without /etc/resolv.conf, with a
// Termux prefix below a temporary directory.
func android(t *testing.T) Config {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "usr")
	if err := os.MkdirAll(filepath.Join(prefix, "etc", "tls"), 0o755); err != nil {
		t.Fatal(err)
	}
	return Config{EtcResolvConf: filepath.Join(dir, "etc", "resolv.conf"), Prefix: prefix}
}

func lookup(t *testing.T, c Config) ([]string, string, error) {
	t.Helper()
	r, source, err := c.Resolver()
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, "bucket.pocketsnap.test")
	return addrs, source, err
}

// Issue 21.6: with /etc/resolv.conf missing, as on Android, a lookup goes
// to the nameservers of Termux's $PREFIX/etc/resolv.conf.
func TestLookupThroughTermuxResolvConf(t *testing.T) {
	addr, queries := dnsStub(t, [4]byte{192, 0, 2, 7})
	c := android(t)
	termux := TermuxResolvConf(c.Prefix)
	if err := os.WriteFile(termux, []byte("# Termux\nsearch lan\nnameserver "+addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addrs, source, err := lookup(t, c)
	if err != nil {
		t.Fatalf("lookup with only %s: %v", termux, err)
	}
	if strings.Join(addrs, ",") != "192.0.2.7" || source != termux || queries.Load() == 0 {
		t.Errorf("got %v from %s after %d stub queries, want 192.0.2.7 from %s through the stub", addrs, source, queries.Load(), termux)
	}
}

// Issue 21.6: S3_DNS_SERVERS overrides both files.
func TestLookupThroughDNSServersKey(t *testing.T) {
	addr, queries := dnsStub(t, [4]byte{192, 0, 2, 9})
	c := android(t)
	if err := os.WriteFile(TermuxResolvConf(c.Prefix), []byte("nameserver 127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.DNSServers = "127.0.0.1:1, " + addr // the first refuses, the second answers
	addrs, source, err := lookup(t, c)
	if err != nil || strings.Join(addrs, ",") != "192.0.2.9" || source != "S3_DNS_SERVERS" || queries.Load() == 0 {
		t.Errorf("got %v, %q, %v; want 192.0.2.9 from S3_DNS_SERVERS through the stub", addrs, source, err)
	}
	c.DNSServers = "dns.example"
	if _, _, err := c.Resolver(); err == nil || !strings.Contains(err.Error(), `S3_DNS_SERVERS: nameserver "dns.example"`) {
		t.Errorf("a host name in S3_DNS_SERVERS: got %v, want an error naming the key and the value", err)
	}
}

// Issue 21.6: with neither file, the error names both and the key.
func TestNoResolvConfNamesBothFiles(t *testing.T) {
	c := android(t)
	_, _, err := c.Resolver()
	if err == nil {
		t.Fatal("no resolv.conf anywhere: got a resolver")
	}
	for _, want := range []string{c.EtcResolvConf, TermuxResolvConf(c.Prefix), "S3_DNS_SERVERS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if err := os.WriteFile(TermuxResolvConf(c.Prefix), []byte("search lan\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Resolver(); err == nil || !strings.Contains(err.Error(), "names no nameserver") {
		t.Errorf("a Termux resolv.conf without nameservers: got %v", err)
	}
}

// Where /etc/resolv.conf exists, Go's own resolver stays in charge.
func TestEtcResolvConfKeepsGoResolver(t *testing.T) {
	c := android(t)
	if err := os.MkdirAll(filepath.Dir(c.EtcResolvConf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.EtcResolvConf, []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, source, err := c.Resolver()
	if err != nil || r != net.DefaultResolver || source != c.EtcResolvConf {
		t.Errorf("got %p, %q, %v; want net.DefaultResolver from %s", r, source, err, c.EtcResolvConf)
	}
}

// writeCert writes a self-signed CA certificate named cn to path.
func writeCert(t *testing.T, path, cn string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Issue 21.6: Termux's CA bundle is found, and SSL_CERT_FILE wins over it.
func TestRootsFindsTermuxBundleAndSSLCertFile(t *testing.T) {
	c := android(t)
	if f := c.RootsFile(); f != "" {
		t.Errorf("no bundle: RootsFile() = %q, want the system's roots", f)
	}
	termux := TermuxCertFile(c.Prefix)
	writeCert(t, termux, "termux-ca")
	own := filepath.Join(t.TempDir(), "own.pem")
	writeCert(t, own, "own-ca")
	for _, tc := range []struct {
		sslCertFile, want, cn string
	}{{"", termux, "termux-ca"}, {own, own, "own-ca"}} {
		c.SSLCertFile = tc.sslCertFile
		if f := c.RootsFile(); f != tc.want {
			t.Errorf("SSL_CERT_FILE=%q: RootsFile() = %q, want %q", tc.sslCertFile, f, tc.want)
		}
		pool, err := c.Roots()
		if err != nil {
			t.Fatal(err)
		}
		//lint:ignore SA1019 the subjects name which bundle was read
		if subj := pool.Subjects(); len(subj) != 1 || !strings.Contains(string(subj[0]), tc.cn) {
			t.Errorf("SSL_CERT_FILE=%q: pool has %d subjects, want only %s", tc.sslCertFile, len(subj), tc.cn)
		}
	}
	if err := os.WriteFile(own, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Roots(); err == nil || !strings.Contains(err.Error(), own) {
		t.Errorf("a bundle without certificates: got %v, want an error naming %s", err, own)
	}
}
