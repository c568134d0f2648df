package remote_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/faultproxy"
	"github.com/pocketsnap/pocketsnap/internal/miniotest"
	"github.com/pocketsnap/pocketsnap/remote"
)

// Issue 19.3: remote.FS stores no context, yet the end of the context
// given to Bucket.FS, or Close, stops a read stalled in flight (a proxy
// holds the GET's response forever), and the read's error says why.
func TestFSReadStopsWhenAborted(t *testing.T) {
	srv := miniotest.Shared(t)
	for _, how := range []string{"context", "close"} {
		t.Run(how, func(t *testing.T) {
			proxy, err := faultproxy.New(srv.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			set := settings(t, srv, "https://"+proxy.Addr())
			b, err := remote.Dial(set, remote.Options{})
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte("pocketsnap"), 200<<10)
			if err := b.Put(t.Context(), "data/obj", bytes.NewReader(data), int64(len(data)), nil); err != nil {
				t.Fatal(err)
			}
			// Every connection from now on stalls once 64 KiB have come
			// down it: the listing passes, the GET of 1 MiB does not. A
			// new client makes new connections.
			proxy.Every(1, faultproxy.Fault{Dir: faultproxy.Down, After: 64 << 10, Stall: faultproxy.Forever})
			if b, err = remote.Dial(set, remote.Options{}); err != nil {
				t.Fatal(err)
			}
			cause := errors.New("the job was cancelled")
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			fsys, err := b.FS(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer fsys.Close()
			f, err := fsys.Open("data/obj")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := f.(io.ReaderAt).ReadAt(make([]byte, 100), 0)
				done <- err
			}()
			for proxy.Stats().Stalls == 0 {
				select {
				case err := <-done:
					t.Fatalf("the read ended before the stall: %v", err)
				case <-time.After(10 * time.Millisecond):
				}
			}
			if how == "context" {
				cancel(cause)
			} else {
				fsys.Close()
			}
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("the stalled read did not stop")
			}
			switch {
			case how == "context" && !errors.Is(err, cause):
				t.Fatalf("read after the context ended: %v, want it to wrap %q", err, cause)
			case how == "close" && (err == nil || !strings.Contains(err.Error(), "closed")):
				t.Fatalf("read after Close: %v, want it to say the file system is closed", err)
			}
			// A later read fails at once, without a request.
			before := proxy.Stats().Accepted
			if _, err := f.(io.ReaderAt).ReadAt(make([]byte, 100), 1<<20); err == nil {
				t.Fatal("a read after the abort succeeded")
			}
			if n := proxy.Stats().Accepted; n != before {
				t.Errorf("a read after the abort opened %d connections", n-before)
			}
		})
	}
}
