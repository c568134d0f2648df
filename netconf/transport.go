package netconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// Transport is the default HTTP transport resolving names as c says (Termux's
// resolv.conf where /etc/resolv.conf is missing), trusting nc's roots
// (SSL_CERT_FILE, Termux's bundle, else the system's) and, when caFile
// is not empty, the certificates in caFile (S3_CA_FILE) too. The bucket
// and the heartbeat both use it, so both work on Android.
func (c Config) Transport(caFile string) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 2 * time.Minute
	resolver, _, resolverErr := c.Resolver()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: resolver}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		// Without DNS servers an endpoint given by its IP address still works.
		if host, _, _ := net.SplitHostPort(addr); resolverErr != nil && net.ParseIP(host) == nil {
			return nil, fmt.Errorf("failed to resolve %s: %w", host, resolverErr)
		}
		return d.DialContext(ctx, network, addr)
	}
	pool, err := c.Roots()
	if err != nil {
		return nil, err
	}
	if pool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if caFile == "" {
		return tr, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("S3_CA_FILE: %w", err)
	}
	if pool == nil {
		if pool, err = x509.SystemCertPool(); err != nil {
			pool = x509.NewCertPool()
		}
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("S3_CA_FILE %s holds no PEM certificate", caFile)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}
