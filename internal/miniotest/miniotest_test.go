//go:build linux

package miniotest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/pocketsnap/pocketsnap/internal/faultproxy"
)

func TestMain(m *testing.M) { Main(m) }

// roundTrip puts a random object of size bytes into bucket through c and
// checks that it reads back the same.
func roundTrip(t *testing.T, c *minio.Client, bucket string, size int) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	name := fmt.Sprintf("obj-%d", size)
	if _, err := c.PutObject(t.Context(), bucket, name, bytes.NewReader(data), int64(size), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put %s/%s: %v", bucket, name, err)
	}
	obj, err := c.GetObject(t.Context(), bucket, name, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, name, err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %s/%s: %v", bucket, name, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("%s/%s read back as %d different bytes, want the %d put", bucket, name, len(got), size)
	}
}

func TestPutGet(t *testing.T) {
	s := Shared(t)
	if !strings.HasPrefix(s.Endpoint, "https://127.0.0.1:") || s.Endpoint != "https://"+s.Host {
		t.Errorf("Endpoint %q, Host %q", s.Endpoint, s.Host)
	}
	c := s.Client(t)
	bucket := s.NewBucket(t)
	roundTrip(t, c, bucket, 1<<20)
	if other := s.NewBucket(t); other == bucket {
		t.Errorf("NewBucket gave %s twice", bucket)
	}
}

func TestThroughFaultProxy(t *testing.T) {
	s := Shared(t)
	p, err := faultproxy.New(s.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	bucket := s.NewBucket(t)
	const size = 256 << 10
	roundTrip(t, s.ClientAt(t, p.Addr()), bucket, size)

	// A fresh client opens a fresh connection, which is reset in the
	// middle of the upload; minio-go retries on a second one.
	p.Next(1, faultproxy.Fault{After: size / 2, Reset: true})
	roundTrip(t, s.ClientAt(t, p.Addr()), bucket, size)

	st := p.Stats()
	if st.Resets != 1 || st.Up < 2*size+size/2 || st.Down < 2*size {
		t.Errorf("proxy stats %+v: want one reset and at least %d bytes up, %d down", st, 2*size+size/2, 2*size)
	}
}

func TestTLSNeedsTheCA(t *testing.T) {
	s := Shared(t)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr}).Get(s.Endpoint + "/minio/health/live")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("GET without the test CA: err = %v, want x509.UnknownAuthorityError", err)
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	tr.TLSClientConfig = s.transport().TLSClientConfig.Clone()
	tr.TLSClientConfig.RootCAs = x509.NewCertPool()
	if !tr.TLSClientConfig.RootCAs.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", s.CAFile)
	}
	resp, err := (&http.Client{Transport: tr}).Get(s.Endpoint + "/minio/health/live")
	if err != nil {
		t.Fatalf("GET trusting %s: %v", s.CAFile, err)
	}
	resp.Body.Close()
}

func TestWrongSecretRejected(t *testing.T) {
	s := Shared(t)
	c, err := minio.New(s.Host, &minio.Options{
		Creds:     credentials.NewStaticV4(s.AccessKey, s.SecretKey+"x", ""),
		Secure:    true,
		Transport: s.transport(),
		Region:    s.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListBuckets(t.Context())
	if code := minio.ToErrorResponse(err).Code; code != minio.SignatureDoesNotMatch {
		t.Fatalf("ListBuckets with a wrong secret: err = %v (code %q), want %s", err, code, minio.SignatureDoesNotMatch)
	}
}

// The root password reaches MinIO through its environment, never argv,
// where every user of the machine could read it.
func TestSecretNotInArgv(t *testing.T) {
	s := Shared(t)
	proc := fmt.Sprintf("/proc/%d/", s.PID())
	cmdline, err := os.ReadFile(proc + "cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cmdline, []byte("\x00server\x00")) {
		t.Fatalf("%scmdline %q is not a MinIO server's", proc, cmdline)
	}
	if bytes.Contains(cmdline, []byte(s.SecretKey)) {
		t.Errorf("%scmdline holds the secret key", proc)
	}
	environ, err := os.ReadFile(proc + "environ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(environ, []byte("\x00MINIO_ROOT_PASSWORD="+s.SecretKey+"\x00")) {
		t.Errorf("%senviron does not give MinIO the secret key", proc)
	}
}

func TestStop(t *testing.T) {
	s := Start(t)
	roundTrip(t, s.Client(t), s.NewBucket(t), 1000)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(s.PID(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("MinIO (pid %d) after Stop: kill -0 gives %v, want ESRCH", s.PID(), err)
	}
	if _, err := os.Stat(s.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("MinIO's directory after Stop: %v, want it gone", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// A test binary that panics or is killed leaves no MinIO behind.
func TestNoOrphan(t *testing.T) {
	Binary(t) // skip (fail in CI) here rather than in the helper
	for _, mode := range []string{"panic", "kill"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestOrphanHelper$", "-test.count=1")
			// A killed helper cannot remove its server's directory: make it
			// one that this test removes.
			cmd.Env = append(os.Environ(), "MINIOTEST_HELPER="+mode, "TMPDIR="+t.TempDir())
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid, err := readPID(out)
			if err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper: %v\n%s", err, stderr.Bytes())
			}
			if mode == "kill" {
				cmd.Process.Kill()
			}
			io.Copy(io.Discard, out)
			if err := cmd.Wait(); err == nil {
				t.Fatalf("the helper succeeded; it should have died (%s)", mode)
			}
			waitGone(t, pid)
		})
	}
}

// TestOrphanHelper runs in TestNoOrphan's child process: it starts a
// server, prints its PID and then panics or waits to be killed.
func TestOrphanHelper(t *testing.T) {
	mode := os.Getenv("MINIOTEST_HELPER")
	if mode == "" {
		t.Skip("runs as TestNoOrphan's child")
	}
	s := Start(t)
	fmt.Printf("pid %d\n", s.PID())
	if mode == "panic" {
		panic("miniotest: helper panics as told")
	}
	time.Sleep(time.Hour)
}

func readPID(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "pid "); ok {
			return strconv.Atoi(rest)
		}
	}
	return 0, fmt.Errorf("no PID printed (%v)", sc.Err())
}

// waitGone waits until process pid is gone or a zombie. The kernel kills
// an orphan at once; the bound only keeps a broken harness from hanging.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	stat := fmt.Sprintf("/proc/%d/stat", pid)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(stat)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		// The state follows the parenthesised command name.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && bytes.HasPrefix(b[i+1:], []byte(" Z")) {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("MinIO (pid %d) outlived its test binary: %s", pid, b)
		}
	}
}
