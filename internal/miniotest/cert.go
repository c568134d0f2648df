//go:build linux

package miniotest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certLifetime is how long the generated certificates are valid: long
// enough for any test run, short enough that a leaked CA is worthless.
const certLifetime = 24 * time.Hour

// writeCerts creates a fresh CA and a server certificate for 127.0.0.1
// signed by it. It writes the server's certificate and key as
// certsDir/public.crt and certsDir/private.key, the layout MinIO's
// --certs-dir expects, and the CA certificate to caFile. It returns a
// pool holding the CA.
func writeCerts(certsDir, caFile string) (*x509.CertPool, error) {
	now := time.Now()
	caTmpl := template("pocketsnap miniotest CA", now)
	caTmpl.KeyUsage = x509.KeyUsageCertSign
	caTmpl.BasicConstraintsValid = true
	caTmpl.IsCA = true
	caTmpl.MaxPathLenZero = true
	ca, caKey, err := issue(caTmpl, nil, nil)
	if err != nil {
		return nil, err
	}
	tmpl := template("127.0.0.1", now)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	cert, key, err := issue(tmpl, ca, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("failed to encode the test server key: %w", err)
	}

	if err := os.MkdirAll(certsDir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create %s: %w", certsDir, err)
	}
	files := []struct {
		path, typ string
		der       []byte
	}{
		{filepath.Join(certsDir, "public.crt"), "CERTIFICATE", cert.Raw},
		{filepath.Join(certsDir, "private.key"), "PRIVATE KEY", keyDER},
		{caFile, "CERTIFICATE", ca.Raw},
	}
	for _, f := range files {
		data := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(f.path, data, 0o600); err != nil {
			return nil, fmt.Errorf("failed to write %s: %w", f.path, err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, nil
}

// template starts a certificate named cn, valid from an hour before now
// (clock skew) for certLifetime, with a random 128-bit serial number.
func template(cn string, now time.Time) *x509.Certificate {
	serial := make([]byte, 16)
	rand.Read(serial) // never fails: crypto/rand.Read panics instead
	return &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
	}
}

// issue generates a P-256 key and a certificate for it from tmpl, signed
// by parent's key, or self-signed when parent is nil.
func issue(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to generate a key for %q: %w", tmpl.Subject.CommonName, err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to create the certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to parse the certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	return cert, key, nil
}
