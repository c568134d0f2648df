//go:build linux

// Package miniotest runs a real MinIO server on 127.0.0.1 for tests: over
// TLS with a certificate made for the run, with random root credentials,
// stopped when the test (or, for [Shared], the test binary) ends.
//
// The server binary is the one scripts/install-minio builds (`make test`
// runs it and passes its path in POCKETSNAP_MINIO). Without it a test
// that asks for a server is skipped, or fails in CI (internal/testenv).
//
// A test starts its own server with [Start]; a package whose tests can
// share one runs them through [Main] (or [Wrap]) and calls [Shared].
// Each test then takes a fresh bucket with [Server.NewBucket].
package miniotest

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// Version is the MinIO server version the tests run against, the one
// scripts/install-minio builds (keep the two in step).
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Region is the region every test server reports.
const Region = "us-east-1"

const (
	readyTimeout = 2 * time.Minute  // bound on a start, however loaded the machine
	stopGrace    = 10 * time.Second // SIGTERM, then this long before SIGKILL
	startTries   = 3                // another process may take the chosen port
	logTailSize  = 4 << 10
)

// Server is a running MinIO server. Its fields are what a client needs;
// they never change.
type Server struct {
	// Endpoint is the server's URL, https://127.0.0.1:PORT.
	Endpoint string
	// Host is the server's address, 127.0.0.1:PORT.
	Host string
	// CAFile is a PEM file with the certificate of the CA that signed the
	// server's certificate, as S3_CA_FILE expects.
	CAFile string
	// AccessKey and SecretKey are the server's root credentials, random
	// for each server.
	AccessKey, SecretKey string
	// Region is the region the server reports (always [Region]).
	Region string

	dir   string
	roots *x509.CertPool
	proc  *proc

	stopOnce sync.Once
	stopErr  error
}

// Binary returns the path of the MinIO server binary: $POCKETSNAP_MINIO
// when set, else where scripts/install-minio builds it. When there is no
// binary it skips the test (fails it in CI).
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("POCKETSNAP_MINIO")
	if bin == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			testenv.Unavailable(t, "no MinIO server: POCKETSNAP_MINIO is unset and %v", err)
		}
		bin = filepath.Join(cache, "pocketsnap", "minio-"+Version, "minio")
	}
	if fi, err := os.Stat(bin); err != nil || !fi.Mode().IsRegular() {
		testenv.Unavailable(t, "no MinIO server at %s (scripts/install-minio builds it; make test runs it)", bin)
	}
	return bin
}

// Start starts a MinIO server for this test alone and stops it when the
// test ends. If the test failed, the tail of the server's log is logged.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("MinIO log (tail):\n%s", s.logTail())
		}
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// start creates the server's directory, certificates and credentials and
// runs the server, trying another port if the chosen one is taken.
func start(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "miniotest-")
	if err != nil {
		return nil, fmt.Errorf("failed to create the MinIO directory: %w", err)
	}
	s := &Server{
		CAFile:    filepath.Join(dir, "ca.pem"),
		AccessKey: randomText(20),
		SecretKey: randomText(40),
		Region:    Region,
		dir:       dir,
	}
	if s.roots, err = writeCerts(s.certsDir(), s.CAFile); err == nil {
		for range startTries {
			if err = s.run(bin); !errors.Is(err, errExited) {
				break
			}
		}
	}
	if err != nil {
		err = fmt.Errorf("failed to start MinIO (%s): %w\n--- MinIO log (tail) ---\n%s", bin, err, s.logTail())
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// errExited reports that the server exited before it was ready.
var errExited = errors.New("the server exited before it was ready")

// run starts the server on a free port and waits until it serves
// requests. On failure the process is gone.
func (s *Server) run(bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Host = fmt.Sprintf("127.0.0.1:%d", port)
	s.Endpoint = "https://" + s.Host
	log, err := os.Create(s.logPath())
	if err != nil {
		return fmt.Errorf("failed to create %s: %w", s.logPath(), err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "server", "--address", s.Host, "--certs-dir", s.certsDir(), filepath.Join(s.dir, "data"))
	// The credentials travel in the environment, never in argv; nothing
	// of the caller's environment (a developer's MINIO_* settings) leaks in.
	cmd.Env = []string{
		"HOME=" + s.dir,
		"PATH=" + os.Getenv("PATH"),
		"MINIO_ROOT_USER=" + s.AccessKey,
		"MINIO_ROOT_PASSWORD=" + s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on", // a data directory on the root disk, a small buffer pool
	}
	cmd.Stdout, cmd.Stderr = log, log
	if s.proc, err = launch(cmd); err != nil {
		return fmt.Errorf("failed to run %s: %w", bin, err)
	}
	if err := s.waitReady(); err != nil {
		s.proc.stop()
		return err
	}
	return nil
}

// waitReady polls the liveness endpoint over TLS until the server
// answers that its object layer is up, the server exits, or readyTimeout
// passes.
func (s *Server) waitReady() error {
	tr := s.transport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	url := s.Endpoint + "/minio/health/live"
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// MinIO answers 200 before its object layer is up, with this
			// header set to "offline".
			if resp.StatusCode == http.StatusOK && resp.Header.Get("X-Minio-Server-Status") != "offline" {
				return nil
			}
			err = fmt.Errorf("%s: %s (server status %q)", url, resp.Status, resp.Header.Get("X-Minio-Server-Status"))
		}
		last = err
		select {
		case <-s.proc.exited:
			return fmt.Errorf("%w (%v)", errExited, s.proc.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("the server was not ready after %v: %w", readyTimeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the server (SIGTERM, then SIGKILL if it lingers) and removes
// its data. It reports an error if the server had exited by itself, since
// the tests using it then saw a crash. Later calls return what the first
// returned. A [Start]ed server is stopped when its test ends.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if err := s.proc.stop(); err != nil {
			s.stopErr = fmt.Errorf("MinIO at %s exited before Stop: %w\n--- MinIO log (tail) ---\n%s", s.Host, err, s.logTail())
		}
		if err := os.RemoveAll(s.dir); err != nil {
			s.stopErr = errors.Join(s.stopErr, fmt.Errorf("failed to remove the MinIO directory: %w", err))
		}
	})
	return s.stopErr
}

// PID returns the server's process ID.
func (s *Server) PID() int { return s.proc.cmd.Process.Pid }

// Client returns a minio-go client for the server with its root
// credentials, trusting its CA: for a test's own setup and assertions.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	return s.ClientAt(t, s.Host)
}

// ClientAt is [Server.Client] for the server reached at host instead,
// such as a proxy in front of it on 127.0.0.1 (the certificate names
// 127.0.0.1, not a port).
func (s *Server) ClientAt(t testing.TB, host string) *minio.Client {
	t.Helper()
	tr := s.transport()
	t.Cleanup(tr.CloseIdleConnections)
	c, err := minio.New(host, &minio.Options{
		Creds:     credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:    true,
		Transport: tr,
		Region:    s.Region,
	})
	if err != nil {
		t.Fatalf("failed to create a MinIO client for %s: %v", host, err)
	}
	return c
}

// NewBucket creates an empty bucket with a fresh random name and returns
// the name. Buckets are not removed; they go with the server.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := "test-" + strings.ToLower(randomText(26))
	if err := s.Client(t).MakeBucket(t.Context(), name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		t.Fatalf("failed to create bucket %s on %s: %v", name, s.Host, err)
	}
	return name
}

// transport is minio-go's default transport trusting the server's CA.
func (s *Server) transport() *http.Transport {
	tr, err := minio.DefaultTransport(true)
	if err != nil {
		panic(err) // it never fails; the error is for API compatibility
	}
	tr.TLSClientConfig.RootCAs = s.roots
	return tr
}

func (s *Server) certsDir() string { return filepath.Join(s.dir, "certs") }
func (s *Server) logPath() string  { return filepath.Join(s.dir, "minio.log") }

// logTail returns the end of the server's log, with the secret key masked
// should the server ever print it.
func (s *Server) logTail() string {
	f, err := os.Open(s.logPath())
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > logTailSize {
		f.Seek(fi.Size()-logTailSize, io.SeekStart)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(failed to read the log: %v)", err)
	}
	return strings.ReplaceAll(string(b), s.SecretKey, "[secret key]")
}

// proc is a server process.
type proc struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has been reaped
	waitErr error         // the process's exit, valid once exited is closed
}

// launch starts cmd so that it dies with the test binary, however that
// ends (a panic, a timeout, SIGKILL): the kernel sends it SIGKILL when the
// thread that started it exits, so the thread stays locked to the
// goroutine that waits for the process.
func launch(cmd *exec.Cmd) (*proc, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// stop ends the process: SIGTERM, then SIGKILL after stopGrace. If the
// process had already exited on its own, stop returns how it exited.
func (p *proc) stop() error {
	select {
	case <-p.exited:
		if p.waitErr == nil {
			return errors.New("exit status 0")
		}
		return p.waitErr
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		p.cmd.Process.Kill()
		<-p.exited
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("failed to find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// randomText returns n random characters from crypto/rand.Text's
// alphabet (A–Z, 2–7).
func randomText(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(rand.Text())
	}
	return b.String()[:n]
}
