package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/prune"
)

var savedRE = regexp.MustCompile(`snapshot (\S+) saved`)

// backupCopy copies src to a fresh tree under the test's directory, backs
// the copy up with extra arguments, and records which tree the snapshot
// holds.
func (c *cli) backupCopy(src, kind string, want map[string]string, args ...string) {
	c.t.Helper()
	tree := filepath.Join(c.dir, "trees", fmt.Sprint(len(want)))
	os.MkdirAll(filepath.Dir(tree), 0o755)
	copyTree(c.t, src, tree)
	out := c.mustRun(append([]string{"backup", kind, "--source", tree}, args...)...)
	want[savedRE.FindStringSubmatch(out)[1]] = tree
}

// restoreAll restores every snapshot in the repository and compares it
// with the tree it was taken from.
func (c *cli) restoreAll(want map[string]string) int {
	c.t.Helper()
	names := c.snapshots()
	for _, name := range names {
		target := filepath.Join(c.dir, "restored")
		c.mustRun("restore", name, "--target", target)
		if err := testtree.Compare(want[name], target, testtree.Options{IgnoreOwner: os.Geteuid() != 0}); err != nil {
			c.t.Fatalf("%s restores differently: %v", name, err)
		}
		os.RemoveAll(target)
	}
	return len(names)
}

// Issue 5, acceptance 3: a backup and a rotate started together, 50 times,
// on a small tree whose snapshots share most blobs and whose changed files
// come back to contents that rotate may be deleting at that moment. Both
// always succeed (the second waits for the lock), and afterwards every
// kept snapshot passes check --read-data and restores.
func TestBackupAndRotateTogether(t *testing.T) {
	c := newCLI(t)
	c.bin = buildBinary(t)
	const kinds = 10 // so that a kind's snapshots are a second apart
	for k := range kinds {
		c.env = append(c.env, fmt.Sprintf("BACKUP_KEEP_K%d=2", k))
	}
	r := rand.New(rand.NewPCG(3, 4))
	src := filepath.Join(c.dir, "src")
	for k := range 20 {
		writeRandom(t, filepath.Join(src, "base", fmt.Sprint(k)), 2<<10+r.IntN(6<<10), r)
	}
	pool := make([]string, 4)
	for i := range pool {
		pool[i] = filepath.Join(c.dir, fmt.Sprint("pool-", i))
		writeRandom(t, pool[i], 64<<10, r)
	}
	want := map[string]string{}
	waits := 0
	start := time.Now()
	for i := range 50 {
		for h := range 3 {
			b, _ := os.ReadFile(pool[r.IntN(len(pool))])
			os.WriteFile(filepath.Join(src, fmt.Sprint("hot-", h)), b, 0o644)
		}
		writeRandom(t, filepath.Join(src, "churn", fmt.Sprint(i%7)), 8<<10, r)
		tree := filepath.Join(c.dir, "trees", fmt.Sprint(i))
		os.MkdirAll(filepath.Dir(tree), 0o755)
		copyTree(t, src, tree)

		cmds := []*exec.Cmd{c.command("backup", fmt.Sprint("k", i%kinds), "--source", tree), c.command("rotate")}
		if i%2 == 1 {
			cmds[0], cmds[1] = cmds[1], cmds[0]
		}
		outs := make([]*bytes.Buffer, 2)
		for j, cmd := range cmds {
			outs[j] = new(bytes.Buffer)
			cmd.Stdout, cmd.Stderr = outs[j], outs[j]
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
		}
		for j, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("round %d: %s: %v\n%s", i, strings.Join(cmd.Args[1:], " "), err, outs[j])
			}
			if strings.Contains(outs[j].String(), "waiting up to") {
				waits++
			}
			if m := savedRE.FindStringSubmatch(outs[j].String()); m != nil {
				want[m[1]] = tree
			}
		}
	}
	t.Logf("50 rounds in %s; the second command waited for the lock %d times", time.Since(start).Round(time.Millisecond), waits)
	if waits == 0 {
		t.Error("the commands never met: the test does not test concurrency")
	}
	if code, out := c.run("check", "--read-data"); code != 0 {
		t.Fatalf("check --read-data: exit %d\n%s", code, out)
	}
	if n := c.restoreAll(want); n != 2*kinds {
		t.Errorf("%d snapshots remain, want %d", n, 2*kinds)
	}
}

// Issue 5, acceptance 4: rotate --repack killed with SIGKILL at random
// moments, 20 times mid-run, leaves a repository that check --read-data
// accepts and from which every snapshot restores; the next rotate
// finishes the job.
func TestRotateSurvivesSIGKILL(t *testing.T) {
	c := newCLI(t)
	c.bin = buildBinary(t)
	r := rand.New(rand.NewPCG(5, 6))
	src := filepath.Join(c.dir, "src")
	for k := range 10 {
		writeRandom(t, filepath.Join(src, "base", fmt.Sprint(k)), 16<<10, r)
	}
	// Kinds in turn keep a kind's snapshots a second apart (names are
	// stamped to the second); each kind keeps its newest.
	const kinds = 6
	for k := range kinds {
		c.env = append(c.env, fmt.Sprintf("BACKUP_KEEP_F%d=1", k))
	}
	want := map[string]string{}
	round := 0
	// Two new snapshots: each writes a large file that dies with it and
	// a smaller one that lives on, into the same packs, which become
	// partly dead.
	twoBackups := func() {
		for range 2 {
			round++
			writeRandom(t, filepath.Join(src, "big"), 3<<19, r)
			writeRandom(t, filepath.Join(src, fmt.Sprint("keep-", round%7)), 128<<10, r)
			c.backupCopy(src, fmt.Sprint("f", round%kinds), want, "--no-rotate")
		}
	}
	rotate := []string{"rotate", "--repack", "--repack-threshold", "10%"}
	for range kinds / 2 { // one snapshot of every kind
		twoBackups()
	}
	var runs []time.Duration
	for range 3 {
		twoBackups()
		start := time.Now()
		c.mustRun(rotate...)
		runs = append(runs, time.Since(start))
	}
	slices.Sort(runs)
	full := runs[1]
	t.Logf("a full rotate --repack takes %s (runs %v)", full, runs)

	killed := 0
	phases := map[string]int{}
	for i := 0; killed < 20; i++ {
		if i == 80 {
			t.Fatalf("only %d of 80 rotations were killed before they finished", killed)
		}
		twoBackups()
		if !killAfter(t, c.command(rotate...), time.Duration(r.Int64N(int64(full)))) {
			continue // it finished first: not a kill mid-run
		}
		killed++
		if code, out := c.run("check", "--read-data"); code != 0 {
			t.Fatalf("kill %d: check --read-data: exit %d\n%s", killed, code, out)
		}
		c.restoreAll(want)
		phases[c.leftover(rotate)]++
	}
	t.Logf("%d rotations killed mid-run; what they left: %v", killed, phases)
	c.mustRun(rotate...)
	if left := c.leftover(rotate); left != "nothing" {
		t.Errorf("the rotate after the kills left %s", left)
	}
	if n := c.restoreAll(want); n != kinds {
		t.Errorf("%d snapshots remain, want %d", n, kinds)
	}
}

// leftover says what a dry run of the rotation would still do, which
// tells where an interrupted one was killed.
func (c *cli) leftover(rotate []string) string {
	c.t.Helper()
	var rep prune.Report
	if err := json.Unmarshal([]byte(c.mustRun(append(rotate, "--dry-run", "--json")...)), &rep); err != nil {
		c.t.Fatal(err)
	}
	switch {
	case len(rep.Snapshots) > 0:
		return "snapshots to delete"
	case len(rep.Packs) > 0:
		return "packs to delete"
	case rep.Repackable.Packs > 0:
		return "packs to repack"
	}
	return "nothing"
}

// killAfter starts cmd, sends it SIGKILL after d, and reports whether the
// kill interrupted it (rather than finding it finished).
func killAfter(t *testing.T, cmd *exec.Cmd, d time.Duration) bool {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}
