// Package s3conf holds the bucket's settings: config reads them from the
// secrets file and remote dials with them. It is a leaf of its own so that
// config, which may not import remote, can return them typed.
package s3conf

// Settings say where the bucket is and how to sign in. They come from the
// 0600 secrets file ${DATA_DIR}/secrets/offsite.env.
type Settings struct {
	Endpoint        string // S3_ENDPOINT, https://host[:port]
	Bucket          string // S3_BUCKET
	Region          string // S3_REGION
	AccessKeyID     string // S3_ACCESS_KEY_ID
	SecretAccessKey string // S3_SECRET_ACCESS_KEY
	Prefix          string // S3_PREFIX, optional
	CAFile          string // S3_CA_FILE, optional: a private CA to trust
	// DNSServers is S3_DNS_SERVERS, optional: nameservers to resolve the
	// endpoint with, for where /etc/resolv.conf is missing (see netconf).
	DNSServers string
}
