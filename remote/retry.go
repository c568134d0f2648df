package remote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/time/rate"
)

// errStalled is the cancel cause of a transfer that made no progress.
var errStalled = errors.New("the transfer stalled")

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// retry runs op until it succeeds, fails for good, or has failed
// b.opt.Retries+1 times, waiting 0.5 s, 1 s, 2 s … (at most 30 s) between
// attempts. Errors name the bucket and what was being done.
func (b *Bucket) retry(ctx context.Context, what string, op func(context.Context) error) error {
	wait := 500 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		err = b.classify(err)
		var p permanentError
		if errors.As(err, &p) || errors.Is(err, ErrDenied) || ctx.Err() != nil || attempt >= b.opt.Retries {
			return fmt.Errorf("%s: %s: %w", b, what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s: %w", b, what, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// classify turns the server's refusals into errors that say what to fix.
// Nothing in them comes from the credentials.
func (b *Bucket) classify(err error) error {
	r := minio.ToErrorResponse(err)
	switch r.Code {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AllAccessDisabled":
		return fmt.Errorf("%w (%s: %s): check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and the key's permissions on bucket %s", ErrDenied, r.Code, r.Message, b.name)
	case "NoSuchBucket":
		return permanent(fmt.Errorf("bucket %s does not exist at %s (check S3_BUCKET)", b.name, b.endpoint))
	case "NoSuchKey":
		return permanent(fmt.Errorf("%w (%s)", fs.ErrNotExist, r.Code))
	case "InvalidRange", "BadDigest", "InvalidDigest", "EntityTooLarge":
		return permanent(fmt.Errorf("%s: %s", r.Code, r.Message))
	}
	if r.StatusCode == http.StatusForbidden || r.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%w (HTTP %d): check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and the key's permissions on bucket %s", ErrDenied, r.StatusCode, b.name)
	}
	return err
}

// stalled reports a cancelled transfer as stalled when that was why.
func stalled(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errStalled) {
		return errStalled
	}
	return err
}

// watchdog watches a transfer's progress: it cancels the transfer after
// timeout without progress, paces it under the rate limit, and reports the
// bytes moved. Its Write and Read both take the bytes that went through,
// so that it serves as minio-go's progress hook and as a tee.
type watchdog struct {
	ctx     context.Context
	limit   *rate.Limiter
	sent    func(int64)
	timer   *time.Timer
	timeout time.Duration
	once    sync.Once
}

func newWatchdog(ctx context.Context, timeout time.Duration, cancel context.CancelCauseFunc, limit *rate.Limiter, sent func(int64)) *watchdog {
	w := &watchdog{ctx: ctx, limit: limit, sent: sent, timeout: timeout}
	w.timer = time.AfterFunc(timeout, func() { cancel(errStalled) })
	return w
}

func (w *watchdog) progress(n int) error {
	w.timer.Reset(w.timeout)
	if w.sent != nil {
		w.sent(int64(n))
	}
	if w.limit != nil {
		for n > 0 {
			c := min(n, w.limit.Burst())
			if err := w.limit.WaitN(w.ctx, c); err != nil {
				return err
			}
			n -= c
		}
		w.timer.Reset(w.timeout)
	}
	return nil
}

// Read is minio-go's progress hook: it is handed the bytes just sent.
func (w *watchdog) Read(p []byte) (int, error) { return len(p), w.progress(len(p)) }

// Write takes the bytes just received.
func (w *watchdog) Write(p []byte) (int, error) { return len(p), w.progress(len(p)) }

func (w *watchdog) stop() { w.once.Do(func() { w.timer.Stop() }) }
