package remote

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/time/rate"

	"github.com/pocketsnap/pocketsnap/netconf"
	"github.com/pocketsnap/pocketsnap/objstore"
	"github.com/pocketsnap/pocketsnap/remote/s3conf"
)

// Settings say where the bucket is and how to sign in (see s3conf, where
// config builds them).
type Settings = s3conf.Settings

// Options tune a connection.
type Options struct {
	// AllowInsecureLoopback permits an http:// endpoint on a loopback
	// address, for tests.
	AllowInsecureLoopback bool
	// Retries bounds the attempts of each request after the first (for
	// server errors, timeouts and resets); 0 means 5.
	Retries int
	// StallTimeout aborts (and retries) a transfer that made no progress
	// for that long; 0 means one minute.
	StallTimeout time.Duration
	// UploadLimit caps the upload rate in bytes per second; 0: no cap.
	UploadLimit int64
}

// ErrDenied is the cause of an error the server gave for bad credentials or
// missing permissions: retrying cannot help.
var ErrDenied = errors.New("access denied")

// Bucket is a connection to the bucket that holds a repository.
type Bucket struct {
	c        *minio.Client
	endpoint string // scheme://host, for messages
	name     string
	prefix   string
	opt      Options
	limit    *rate.Limiter // nil: no upload cap
}

var _ objstore.Store = (*Bucket)(nil)

// Dial checks the settings and prepares a connection; it sends nothing.
func Dial(s Settings, opt Options) (*Bucket, error) {
	u, err := checkEndpoint(s.Endpoint, opt.AllowInsecureLoopback)
	if err != nil {
		return nil, err
	}
	for _, kv := range [][2]string{{"S3_BUCKET", s.Bucket}, {"S3_ACCESS_KEY_ID", s.AccessKeyID}, {"S3_SECRET_ACCESS_KEY", s.SecretAccessKey}} {
		if kv[1] == "" {
			return nil, fmt.Errorf("%s is not set", kv[0])
		}
	}
	tr, err := netconf.FromEnv(s.DNSServers).Transport(s.CAFile)
	if err != nil {
		return nil, err
	}
	if opt.Retries == 0 {
		opt.Retries = 5
	}
	if opt.StallTimeout == 0 {
		opt.StallTimeout = time.Minute
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:     credentials.NewStaticV4(s.AccessKeyID, s.SecretAccessKey, ""),
		Secure:    u.Scheme == "https",
		Region:    s.Region,
		Transport: tr,
		// Retries are ours (see retry), so that a stalled transfer is
		// retried like a reset one and the bound holds for both.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("S3_ENDPOINT %s: %w", u.Host, err)
	}
	b := &Bucket{c: c, endpoint: u.Scheme + "://" + u.Host, name: s.Bucket, prefix: strings.Trim(s.Prefix, "/"), opt: opt}
	if opt.UploadLimit > 0 {
		// A burst of 64 KiB keeps the rate smooth on a slow link.
		b.limit = rate.NewLimiter(rate.Limit(opt.UploadLimit), 64<<10)
	}
	return b, nil
}

// checkEndpoint accepts https URLs, and http ones on a loopback address
// only when allowed.
func checkEndpoint(endpoint string, insecureLoopback bool) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("S3_ENDPOINT %q is not a URL of the form https://host[:port]", redactURL(endpoint))
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		ip := net.ParseIP(u.Hostname())
		if insecureLoopback && (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) {
			return u, nil
		}
		return nil, fmt.Errorf("S3_ENDPOINT %s uses http: backups leave the device only over https (use an https:// endpoint)", u.Host)
	}
	return nil, fmt.Errorf("S3_ENDPOINT %s: unsupported scheme %q (want https)", u.Host, u.Scheme)
}

// redactURL drops anything that could be a credential from a URL that is
// about to be shown.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		u.User, u.RawQuery, u.Fragment = nil, "", ""
		return u.String()
	}
	return "(unparsable)"
}

// String names the bucket for messages: endpoint, bucket and prefix.
func (b *Bucket) String() string {
	s := b.endpoint + "/" + b.name
	if b.prefix != "" {
		s += "/" + b.prefix
	}
	return s
}

// key is the object key of a repository-relative name.
func (b *Bucket) key(name string) string {
	if b.prefix == "" {
		return name
	}
	return b.prefix + "/" + name
}

// Object is what a listing says of an object.
type Object struct {
	Size int64
	// ETag is the server's entity tag, without quotes: for an object
	// sent with a single PUT and no server-side encryption with a KMS
	// key, the hex MD5 of its content.
	ETag string
}

// MatchesContent reports whether the listed object is, by its size and
// ETag, an object whose content is data. false means "cannot tell", not
// "differs": an ETag is not always the content's MD5.
func (o Object) MatchesContent(data []byte) bool {
	sum := md5.Sum(data)
	return o.Size == int64(len(data)) && strings.EqualFold(o.ETag, hex.EncodeToString(sum[:]))
}

// List returns every object under the prefix, by repository-relative
// name, with its size. It needs only the permission to list the bucket.
func (b *Bucket) List(ctx context.Context) (map[string]int64, error) {
	objects, err := b.ListObjects(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(objects))
	for name, o := range objects {
		out[name] = o.Size
	}
	return out, nil
}

// ListObjects returns every object under the prefix, by
// repository-relative name, with its size and ETag. It needs only the
// permission to list the bucket.
func (b *Bucket) ListObjects(ctx context.Context) (map[string]Object, error) {
	out := map[string]Object{}
	err := b.retry(ctx, "list", func(ctx context.Context) error {
		clear(out)
		pfx := ""
		if b.prefix != "" {
			pfx = b.prefix + "/"
		}
		for o := range b.c.ListObjects(ctx, b.name, minio.ListObjectsOptions{Prefix: pfx, Recursive: true}) {
			if o.Err != nil {
				return o.Err
			}
			out[strings.TrimPrefix(o.Key, pfx)] = Object{Size: o.Size, ETag: strings.Trim(o.ETag, `"`)}
		}
		return nil
	})
	return out, err
}

// MaxPutSize is the size from which S3 refuses an object sent with a
// single PUT: 5 GiB.
const MaxPutSize = 5 << 30

// ErrTooLarge is the cause of the error of a Put of MaxPutSize or more.
var ErrTooLarge = errors.New("an object of 5 GiB or more cannot be sent with a single PUT")

// Put uploads an object of size bytes read from src with one PUT, the
// server checking its Content-MD5. An object of MaxPutSize or more is
// refused before anything is sent. sent, if not nil, is told of the bytes
// as they go out; a failed attempt that is retried reports them again.
func (b *Bucket) Put(ctx context.Context, name string, src io.ReaderAt, size int64, sent func(int64)) error {
	if size >= MaxPutSize {
		return fmt.Errorf("%s: %s is %d bytes: %w", b, name, size, ErrTooLarge)
	}
	return b.retry(ctx, "upload "+name, func(ctx context.Context) error {
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		w := newWatchdog(ctx, b.opt.StallTimeout, cancel, b.limit, sent)
		defer w.stop()
		_, err := b.c.PutObject(ctx, b.name, b.key(name), io.NewSectionReader(src, 0, size), size, minio.PutObjectOptions{
			DisableMultipart: true,
			SendContentMd5:   true,
			ContentType:      "application/octet-stream",
			Progress:         w,
		})
		return stalled(ctx, err)
	})
}

// Stat returns an object's size. It needs the permission to read.
func (b *Bucket) Stat(ctx context.Context, name string) (int64, error) {
	var size int64
	err := b.retry(ctx, "stat "+name, func(ctx context.Context) error {
		info, err := b.c.StatObject(ctx, b.name, b.key(name), minio.StatObjectOptions{})
		size = info.Size
		return err
	})
	return size, err
}

// Remove deletes an object; a missing one is not an error.
func (b *Bucket) Remove(ctx context.Context, name string) error {
	return b.retry(ctx, "delete "+name, func(ctx context.Context) error {
		return b.c.RemoveObject(ctx, b.name, b.key(name), minio.RemoveObjectOptions{})
	})
}

// ReadRange reads length bytes of an object from off.
func (b *Bucket) ReadRange(ctx context.Context, name string, off, length int64) ([]byte, error) {
	var out []byte
	err := b.retry(ctx, "download "+name, func(ctx context.Context) error {
		var o minio.GetObjectOptions
		if err := o.SetRange(off, off+length-1); err != nil {
			return permanent(err)
		}
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		w := newWatchdog(ctx, b.opt.StallTimeout, cancel, nil, nil)
		defer w.stop()
		obj, err := b.c.GetObject(ctx, b.name, b.key(name), o)
		if err != nil {
			return stalled(ctx, err)
		}
		defer obj.Close()
		if err := checkRange(obj, name, off, length); err != nil {
			return stalled(ctx, err)
		}
		buf := make([]byte, length)
		if _, err := io.ReadFull(io.TeeReader(obj, w), buf); err != nil {
			return stalled(ctx, err)
		}
		out = buf
		return nil
	})
	return out, err
}

// checkRange refuses, for good, a response whose range is shorter than
// asked: the range runs past the object's end, and retrying cannot help.
func checkRange(obj *minio.Object, name string, off, length int64) error {
	info, err := obj.Stat()
	if err != nil {
		return err
	}
	var start, end, total int64
	if _, err := fmt.Sscanf(info.Headers.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &total); err == nil && end-start+1 < length {
		return permanent(fmt.Errorf("%s has %d bytes: %d bytes at %d run past its end: %w", name, total, length, off, io.ErrUnexpectedEOF))
	}
	return nil
}

// ReadFile reads a whole object.
func (b *Bucket) ReadFile(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := b.retry(ctx, "download "+name, func(ctx context.Context) error {
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		w := newWatchdog(ctx, b.opt.StallTimeout, cancel, nil, nil)
		defer w.stop()
		obj, err := b.c.GetObject(ctx, b.name, b.key(name), minio.GetObjectOptions{})
		if err != nil {
			return stalled(ctx, err)
		}
		defer obj.Close()
		out, err = io.ReadAll(io.TeeReader(obj, w))
		return stalled(ctx, err)
	})
	return out, err
}

// ArchivesDir is the bucket directory of the classic archives: a
// kind's are under ArchivesDir/<kind>/, by their file names.
const ArchivesDir = "archives"
