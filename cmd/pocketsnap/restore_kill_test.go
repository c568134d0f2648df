package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

// Acceptance (system restore): a restore killed with SIGKILL at 10 random
// moments of its extraction leaves the live tree unchanged, and the next
// restore succeeds.
func TestRestoreSurvivesSIGKILL(t *testing.T) {
	c := newCLI(t)
	c.bin = buildBinary(t)
	live := filepath.Join(c.dir, "debian")
	os.Mkdir(live, 0o755)
	if err := testtree.Generate(live, 31); err != nil {
		t.Fatal(err)
	}
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
	c.mustRun("restore", "--confirm=ERASE-AND-RESTORE")
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
