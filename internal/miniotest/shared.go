//go:build linux

package miniotest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// shared is the server a test binary's tests share.
var shared struct {
	mu      sync.Mutex
	enabled bool // the tests run through Wrap, which stops the server
	srv     *Server
	err     error // why the server did not start, for every later caller
}

// Shared returns the test binary's shared MinIO server, starting it on
// first use. The package's TestMain must run the tests through [Main] or
// [Wrap], which stop it; otherwise Shared fails the test. Tests that share
// the server should each use their own bucket ([Server.NewBucket]).
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.enabled {
		t.Fatal("miniotest.Shared: TestMain must run the tests through miniotest.Main or miniotest.Wrap")
	}
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = start(bin)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// TestingM is what [Wrap] wraps and returns: *testing.M, and what
// testscript.Main accepts.
type TestingM interface {
	Run() int
}

// Wrap returns m with [Shared] enabled and the shared server stopped
// after m's tests, for a TestMain that runs the tests some other way,
// such as testscript.Main(miniotest.Wrap(m), cmds). If the server crashed
// during the tests, Run reports it and fails.
func Wrap(m TestingM) TestingM { return wrapped{m} }

type wrapped struct{ m TestingM }

func (w wrapped) Run() int {
	shared.mu.Lock()
	shared.enabled = true
	shared.mu.Unlock()
	code := w.m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "miniotest:", err)
			code = max(code, 1)
		}
	}
	return code
}

// Main runs the tests with [Shared] enabled and stops the shared server
// afterwards: call it as the whole of a package's TestMain.
func Main(m *testing.M) { os.Exit(Wrap(m).Run()) }
