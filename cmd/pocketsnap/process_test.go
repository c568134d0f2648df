package main

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

// cli runs the pocketsnap binary (installed in PATH by testscript.Main) in
// a prepared environment.
type cli struct {
	t    *testing.T
	bin  string
	env  []string
	dir  string
	cred *syscall.Credential
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	bin, err := exec.LookPath("pocketsnap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(key, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, bin: bin, dir: dir, env: append(os.Environ(),
		"DATA_DIR="+filepath.Join(dir, "data"),
		"BACKUP_AGE_RECIPIENT="+id.Recipient().String(),
		"POCKETSNAP_ENV_FILE=/dev/null",
	)}
	c.env = append(c.env, "BACKUP_AGE_IDENTITY="+key)
	return c
}

func (c *cli) command(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// run runs a command to completion and returns its exit code and output.
func (c *cli) run(args ...string) (int, string) {
	c.t.Helper()
	var out bytes.Buffer
	cmd := c.command(args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		c.t.Fatalf("pocketsnap %v: %v", args, err)
	}
	return 0, out.String()
}

func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	code, out := c.run(args...)
	if code != 0 {
		c.t.Fatalf("pocketsnap %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (c *cli) snapshots() []string {
	ents, _ := os.ReadDir(filepath.Join(c.dir, "data", "backups", "repo", "snapshots"))
	var names []string
	for _, e := range ents {
		if !strings.Contains(e.Name(), ".tmp-") {
			names = append(names, e.Name())
		}
	}
	return names
}

func writeRandom(t *testing.T, path string, n int, r *rand.Rand) {
	t.Helper()
	b := make([]byte, n)
	var seed [32]byte
	for i := range 4 {
		binary.LittleEndian.PutUint64(seed[8*i:], r.Uint64())
	}
	rand.NewChaCha8(seed).Read(b)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildBinary builds pocketsnap without the race detector.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pocketsnap")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// killTimer kills commands at random moments in [0, full), full being how
// long one runs. A run that ends before its kill shortens full to what it
// took, so that the kills keep landing mid-run when the machine has become
// faster than when full was measured (as when other packages' tests end).
type killTimer struct {
	full time.Duration
	r    *rand.Rand
}

// kill starts cmd, sends it SIGKILL at a random moment, and reports whether
// the kill interrupted it (rather than finding it finished).
func (k *killTimer) kill(t *testing.T, cmd *exec.Cmd) bool {
	t.Helper()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	select {
	case <-time.After(time.Duration(k.r.Int64N(int64(k.full)))):
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	case <-exited:
		k.full = max(min(k.full, time.Since(start)), time.Millisecond)
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// Acceptance (core issue, crash safety): a backup killed with SIGKILL at
// 20 random moments leaves a repository that check --read-data accepts,
// from which the earlier snapshot restores, and the next backup succeeds.
func TestBackupSurvivesSIGKILL(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	os.MkdirAll(src, 0o755)
	if err := testtree.Generate(src, 11); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 8 {
		writeRandom(t, filepath.Join(src, "bulk", strings.Repeat("b", i+1)), 1<<20, r)
	}
	c.mustRun("backup", "files", "--source", src)
	first := c.snapshots()[0]
	// Keep a copy of the tree as it was, to compare restores with.
	orig := filepath.Join(c.dir, "orig")
	c.mustRun("restore", first, "--target", orig)

	// The test binary may be built with -race, which makes a backup ten
	// times slower; kill a normal build, as users run it.
	c.bin = buildBinary(t)
	var runs []time.Duration
	for range 3 {
		writeRandom(t, filepath.Join(src, "new-0"), 12<<20, r)
		start := time.Now()
		c.mustRun("backup", "files", "--source", src)
		runs = append(runs, time.Since(start))
	}
	slices.Sort(runs)
	kills := &killTimer{full: runs[1], r: r}

	killed := 0
	for i := 0; killed < 20; i++ {
		if i == 60 {
			t.Fatalf("only %d of 60 backups were killed before they finished", killed)
		}
		writeRandom(t, filepath.Join(src, "new-0"), 12<<20, r) // fresh data each time
		if !kills.kill(t, c.command("backup", "files", "--source", src)) {
			continue // it finished first: that was not a kill mid-backup
		}
		killed++

		if code, out := c.run("check", "--read-data"); code != 0 {
			t.Fatalf("kill %d: check --read-data exit %d:\n%s", i, code, out)
		}
		target := filepath.Join(c.dir, "restored")
		c.mustRun("restore", first, "--target", target)
		if err := testtree.Compare(orig, target, testtree.Options{}); err != nil {
			t.Fatalf("kill %d: earlier snapshot restores differently: %v", i, err)
		}
		os.RemoveAll(target)
	}
	c.mustRun("backup", "files", "--source", src)
	names := c.snapshots()
	target := filepath.Join(c.dir, "latest")
	c.mustRun("restore", names[len(names)-1], "--target", target)
	if err := testtree.Compare(src, target, testtree.Options{}); err != nil {
		t.Fatalf("backup after the kills restores differently: %v", err)
	}
}

// A file that cannot be read makes an incomplete snapshot: saved, flagged,
// exit code 3, the file named in a warning.
func TestUnreadableFileMakesIncompleteSnapshot(t *testing.T) {
	c := newCLI(t)
	if os.Geteuid() == 0 {
		// root reads everything: run as nobody.
		c.asNobody()
	}
	src := filepath.Join(c.dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "ok.txt"), []byte("fine"), 0o644)
	os.WriteFile(filepath.Join(src, "secret.txt"), []byte("no"), 0o000)

	code, out := c.run("backup", "files", "--source", src)
	if code != exitIncomplete {
		t.Fatalf("exit %d, want %d:\n%s", code, exitIncomplete, out)
	}
	for _, want := range []string{"warning: secret.txt: ", "permission denied", "is incomplete"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	listing := c.mustRun("snapshots")
	if !strings.Contains(listing, "incomplete") {
		t.Errorf("snapshots does not flag it:\n%s", listing)
	}
}

// asNobody makes c run pocketsnap as the user nobody, with the paths it
// needs open to it, and its directory (DATA_DIR, and whatever is in it
// now) its own. The caller must be root.
func (c *cli) asNobody() {
	c.t.Helper()
	c.cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	bin := filepath.Join(c.dir, "pocketsnap")
	data, err := os.ReadFile(c.bin)
	if err != nil {
		c.t.Fatal(err)
	}
	os.WriteFile(bin, data, 0o755)
	c.bin = bin
	for p := c.dir; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	// The identity stays 0600 (issue 17.6 refuses a loose one): it
	// becomes nobody's with the rest below.
	os.Chmod(filepath.Join(c.dir, "key.txt"), 0o600)
	os.MkdirAll(filepath.Join(c.dir, "data"), 0o755)
	filepath.WalkDir(c.dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			err = os.Lchown(p, 65534, 65534)
		}
		return err
	})
}

// processGroup is a started command in a process group of its own, so that
// a kill reaches the commands it started too.
type processGroup struct {
	t   *testing.T
	cmd *exec.Cmd
}

func startGroup(t *testing.T, cmd *exec.Cmd) *processGroup {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &processGroup{t: t, cmd: cmd}
}

// kill sends SIGKILL to the whole group and waits for the leader.
func (p *processGroup) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.cmd.Wait()
}
