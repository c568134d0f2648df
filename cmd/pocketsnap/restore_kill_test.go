package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

// liveRootfs returns a CLI running the built binary and a live rootfs
// in its directory, a tree generated from seed.
func liveRootfs(t *testing.T, seed int64) (*cli, string) {
	c := newCLI(t)
	c.bin = buildBinary(t)
	live := filepath.Join(c.dir, "debian")
	if err := os.Mkdir(live, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testtree.Generate(live, seed); err != nil {
		t.Fatal(err)
	}
	return c, live
}

// Acceptance (system restore): a restore killed with SIGKILL at 10 random
// moments of its extraction leaves the live tree unchanged, and the next
// restore succeeds.
func TestRestoreSurvivesSIGKILL(t *testing.T) {
	c, live := liveRootfs(t, 31)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 6 {
		writeRandom(t, filepath.Join(live, "var", "lib", "conduwuit", "db", string(rune('a'+i))+".sst"), 2<<20, r)
	}
	c.env = append(c.env, "ROOTFS_DIR="+live)
	c.mustRun("backup", "rootfs")
	c.mustRun("backup", "db")
	want := filepath.Join(c.dir, "want")
	c.mustRun("restore", c.snapshots()[1], "--target", want) // rootfs sorts after db
	// The rootfs snapshot holds the live db as an empty directory (issue
	// 18.11); the system restore puts the db snapshot in it.
	c.mustRun("restore", c.snapshots()[0], "--target", filepath.Join(want, "var", "lib", "conduwuit", "db"))
	if fi, err := os.Stat(filepath.Join(live, "var", "lib", "conduwuit")); err != nil {
		t.Fatal(err)
	} else if err := os.Chtimes(filepath.Join(want, "var", "lib", "conduwuit"), fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	writeRandom(t, filepath.Join(live, "changed-since"), 1<<20, r)
	before, err := testtree.Hash(live)
	if err != nil {
		t.Fatal(err)
	}

	// The stop command marks the end of extraction and blocks: every kill
	// lands before the swap.
	marker := filepath.Join(c.dir, "stopping")
	block := append(c.env[:len(c.env):len(c.env)], "STACK_STOP_CMD=sh -c 'touch "+marker+"; sleep 60'")
	restoreCmd := func() (*processGroup, time.Time) {
		os.Remove(marker)
		cmd := c.command("restore", "--confirm=ERASE-AND-RESTORE")
		cmd.Env = block
		pg := startGroup(t, cmd)
		return pg, time.Now()
	}
	pg, start := restoreCmd()
	for !exists(marker) {
		time.Sleep(5 * time.Millisecond)
	}
	extraction := time.Since(start)
	pg.kill()

	killed := 0
	for i := 0; killed < 10; i++ {
		if i == 40 {
			t.Fatalf("only %d of 40 kills landed during extraction", killed)
		}
		pg, _ := restoreCmd()
		time.Sleep(time.Duration(r.Int64N(int64(extraction))))
		during := !exists(marker)
		pg.kill()
		if during {
			killed++
		}
		if h, err := testtree.Hash(live); err != nil || h != before {
			t.Fatalf("kill %d: the live tree changed (%v)", i, err)
		}
	}
	out := c.mustRun("restore", "--confirm=ERASE-AND-RESTORE", "--stack-stopped")
	t.Log(out)
	if err := testtree.Compare(want, live, testtree.Options{}); err != nil {
		t.Fatalf("restore after the kills: %v", err)
	}
	if m, _ := filepath.Glob(live + ".restoring-*"); len(m) != 0 {
		t.Fatalf("staging directories left behind: %v", m)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// Issue 17.2: a --target restore killed with SIGKILL mid-extraction leaves
// its staging directory; a quick rerun says it is stale, removes it and
// succeeds.
func TestTargetRestoreAfterSIGKILL(t *testing.T) {
	c := newCLI(t)
	c.bin = buildBinary(t)
	src := filepath.Join(c.dir, "src")
	r := rand.New(rand.NewPCG(17, 2))
	for i := range 8 {
		writeRandom(t, filepath.Join(src, string(rune('a'+i))), 4<<20, r)
	}
	c.env = append(c.env, "ROOTFS_DIR="+src)
	c.mustRun("backup", "rootfs")
	snap := c.snapshots()[0]
	target := filepath.Join(c.dir, "out")

	pg := startGroup(t, c.command("restore", snap, "--target", target))
	var staging string
	for deadline := time.Now().Add(time.Minute); staging == ""; {
		if time.Now().After(deadline) {
			t.Fatal("the restore never wrote into its staging directory")
		}
		if m, _ := filepath.Glob(target + ".restoring-*/tree/?"); len(m) > 0 {
			staging = filepath.Dir(filepath.Dir(m[0]))
		}
		time.Sleep(time.Millisecond)
	}
	pg.kill()
	if !exists(staging) {
		t.Fatalf("the kill did not land mid-restore: %s is gone", staging)
	}

	out := c.mustRun("restore", snap, "--target", target)
	if !strings.Contains(out, "removing "+staging+": left by a restore that was interrupted") {
		t.Errorf("the rerun does not say it removed %s:\n%s", staging, out)
	}
	if m, _ := filepath.Glob(target + ".restoring-*"); len(m) != 0 {
		t.Fatalf("staging directories left behind: %v", m)
	}
	if err := testtree.Compare(src, target, testtree.Options{}); err != nil {
		t.Fatal(err)
	}
}

// Issue 17.2: a restore never touches the staging directory of a restore
// that is still running (its lock is held), and says so; both finish.
func TestRestoreLeavesLiveStagingAlone(t *testing.T) {
	c, live := liveRootfs(t, 5)
	c.env = append(c.env, "ROOTFS_DIR="+live)
	c.mustRun("backup", "rootfs")
	want := filepath.Join(c.dir, "want")
	c.mustRun("restore", c.snapshots()[0], "--target", want)

	// The first restore stages everything, then waits in its stop command
	// until the gate goes.
	marker, gate := filepath.Join(c.dir, "stopping"), filepath.Join(c.dir, "gate")
	os.WriteFile(gate, nil, 0o600)
	first := c.command("restore", "--only", "rootfs", "--confirm=ERASE-AND-RESTORE",
		"--stop-cmd", "sh -c 'touch "+marker+"; while [ -e "+gate+" ]; do sleep 0.05; done'")
	var firstOut strings.Builder
	first.Stdout, first.Stderr = &firstOut, &firstOut
	pg := startGroup(t, first)
	defer pg.kill()
	for deadline := time.Now().Add(time.Minute); !exists(marker); {
		if time.Now().After(deadline) {
			t.Fatalf("the first restore never reached its stop command:\n%s", firstOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	m, _ := filepath.Glob(live + ".restoring-*")
	if len(m) != 1 {
		t.Fatalf("staging directories of the first restore: %v", m)
	}
	staging := m[0]
	before, err := testtree.Hash(staging)
	if err != nil {
		t.Fatal(err)
	}

	out := c.mustRun("restore", "--only", "rootfs", "--confirm=ERASE-AND-RESTORE", "--stop-cmd", "true")
	if !strings.Contains(out, "leaving "+staging+" alone: a restore still running owns it") {
		t.Errorf("the second restore does not say it left %s alone:\n%s", staging, out)
	}
	if after, err := testtree.Hash(staging); err != nil || after != before {
		t.Fatalf("the second restore changed the first one's staging directory (%v)", err)
	}

	os.Remove(gate)
	if err := first.Wait(); err != nil {
		t.Fatalf("the first restore failed: %v\n%s", err, firstOut.String())
	}
	if err := testtree.Compare(want, live, testtree.Options{}); err != nil {
		t.Fatalf("after both restores: %v", err)
	}
	if m, _ := filepath.Glob(live + ".restoring-*"); len(m) != 0 {
		t.Fatalf("staging directories left behind: %v", m)
	}
}
