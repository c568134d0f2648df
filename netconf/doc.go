// Package netconf finds the DNS servers and TLS roots pocketsnap uses
// where the usual files are missing or stale, as on Android.
//
// # DNS
//
// Without cgo, Go's resolver reads /etc/resolv.conf. Android has none, so
// Go falls back to 127.0.0.1:53 and every lookup fails (golang/go#34024).
// [Config.Resolver] therefore reads, in order: the servers of the
// S3_DNS_SERVERS key when set; /etc/resolv.conf when it exists (Go's own
// resolver is used unchanged); Termux's $PREFIX/etc/resolv.conf; and
// otherwise fails naming both files.
//
// # TLS roots
//
// Go reads Android's /system/etc/security/cacerts, which a phone that no
// longer gets updates keeps stale; Termux ships a maintained bundle at
// $PREFIX/etc/tls/cert.pem. [Config.RootsFile] picks SSL_CERT_FILE when
// set, else that bundle when present, else the system's roots.
//
// The API is not stable before v1.
package netconf
