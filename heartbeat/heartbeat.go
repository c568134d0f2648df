// Package heartbeat reports the outcome of scheduled backups to a
// healthchecks.io-style ping URL, so that someone is alerted when the
// phone goes dark or a backup breaks.
//
// A success is a GET of the URL, a failure a GET of <url>/fail. The URL
// usually embeds a secret token, so it never appears in an error or a log
// line: only its host does ([Pinger.Host]).
//
// The API is not stable before v1.
package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Pinger pings one URL.
type Pinger struct {
	url  string
	host string
	// secret are the parts of the URL other than the host: its path and
	// query, where services put the token.
	secret []string
	// Client makes the requests; its own timeout is not used.
	Client *http.Client
	// Timeout bounds each attempt.
	Timeout time.Duration
	// Attempts is how many times a ping is tried before giving up, waiting
	// Backoff, then twice as long, between attempts.
	Attempts int
	Backoff  time.Duration
}

// New returns a Pinger for an http or https URL, with a 10-second
// timeout and 3 attempts 2 and 4 seconds apart. Its errors never quote
// the URL.
func New(rawURL string) (*Pinger, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("not an http or https URL")
	}
	var secret []string
	for _, part := range []string{strings.TrimSuffix(u.EscapedPath(), "/"), u.RawQuery} {
		if len(part) > 1 {
			secret = append(secret, part)
		}
	}
	return &Pinger{
		url: strings.TrimSuffix(rawURL, "/"), host: u.Host, secret: secret, Client: http.DefaultClient,
		Timeout: 10 * time.Second, Attempts: 3, Backoff: 2 * time.Second,
	}, nil
}

// Host returns the URL's host (and port), which is all of it that may be
// logged.
func (p *Pinger) Host() string { return p.host }

// Report pings the URL after a success, <url>/fail after a failure. It
// returns an error, naming only the host, when no attempt got a 2xx
// answer; an answer of 4xx is not retried.
func (p *Pinger) Report(ctx context.Context, ok bool) error {
	target, what := p.url, "success"
	if !ok {
		target, what = p.url+"/fail", "failure"
	}
	var err error
	wait := p.Backoff
	for attempt := 1; ; attempt++ {
		var retry bool
		if retry, err = p.get(ctx, target); err == nil {
			return nil
		}
		if !retry || attempt >= p.Attempts {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("ping of %s to %s interrupted: %w", what, p.host, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
	return fmt.Errorf("ping of %s to %s failed: %w", what, p.host, err)
}

// get makes one attempt, and says whether another may succeed.
func (p *Pinger) get(ctx context.Context, target string) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return false, errors.New("invalid request")
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return true, p.scrub(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return false, fmt.Errorf("answered %s", resp.Status)
	}
	return true, fmt.Errorf("answered %s", resp.Status)
}

// scrub returns the cause of a request's error without the URL that
// net/http puts in it, and with any other mention of the URL's path or
// query (in a redirect's, say) blotted out.
func (p *Pinger) scrub(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s", p.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	for _, s := range p.secret {
		msg = strings.ReplaceAll(msg, s, "…")
	}
	return errors.New(msg)
}
