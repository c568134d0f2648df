package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/manifest"
)

// Issue 20 (manifest v2): a backup killed at any instant, also between
// storing a new set object and the manifest that names it, leaves every
// manifest with its set object (check passes, each snapshot restores),
// and rotate then deletes the set objects that no manifest names.
func TestBackupKilledLeavesNoDanglingSet(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	os.MkdirAll(src, 0o755)
	r := rand.New(rand.NewPCG(20, 4))
	rewriteAll := func() { // every blob changes: each backup stores a new base
		for i := range 300 {
			writeRandom(t, filepath.Join(src, fmt.Sprintf("f%03d", i)), 2000, r)
		}
	}
	rewriteAll()
	c.bin = buildBinary(t)
	start := time.Now()
	c.mustRun("backup", "files", "--source", src)
	full := time.Since(start)
	repo := filepath.Join(c.dir, "data", "backups", "repo")

	killed := 0
	for i := 0; killed < 10; i++ {
		if i == 60 {
			t.Fatalf("only %d of 60 backups were killed before they finished", killed)
		}
		rewriteAll()
		time.Sleep(1100 * time.Millisecond) // a new snapshot name
		cmd := c.command("backup", "files", "--source", src)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Around the end, where the set object and the manifest are written.
		time.Sleep(full*7/10 + time.Duration(r.Int64N(int64(full)*6/10)))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			continue
		}
		killed++
		if code, out := c.run("check"); code != 0 {
			t.Fatalf("kill %d: check exit %d:\n%s", i, code, out)
		}
	}
	names := c.snapshots()
	for _, name := range names {
		target := filepath.Join(t.TempDir(), "t")
		c.mustRun("restore", name, "--target", target)
	}
	pre, _ := filepath.Glob(filepath.Join(repo, manifest.SetsDir, "*"))
	t.Logf("%d set objects for %d snapshots before rotate", len(pre), len(names))
	c.mustRun("rotate") // kind files has no policy: every snapshot is kept
	named := map[string]bool{}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(repo, manifest.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		_, after, _ := strings.Cut(string(b), `"base":"`)
		named[manifest.SetsDir+"/"+after[:64]] = true
	}
	sets, _ := filepath.Glob(filepath.Join(repo, manifest.SetsDir, "*"))
	for i, s := range sets {
		sets[i] = manifest.SetsDir + "/" + filepath.Base(s)
	}
	if len(sets) != len(named) || slices.ContainsFunc(sets, func(s string) bool { return !named[s] }) {
		t.Fatalf("after rotate, set objects %v; the %d snapshots name %v", sets, len(names), named)
	}
}

// Issue 20: restore of a snapshot whose set object is missing or altered
// fails closed with the exit code of corruption, naming the object, and
// writes nothing; so does check.
func TestRestoreRefusesADamagedSetObject(t *testing.T) {
	v := newVictim(t)
	pub := publicPart(t, v.repo, v.snapshot)
	name := "sets/" + pub["base"].(string)
	for _, local := range []bool{true, false} {
		repo := v.copyRepo(t, local)
		b, err := os.ReadFile(filepath.Join(repo, name))
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-1] ^= 1
		os.WriteFile(filepath.Join(repo, name), b, 0o600)
		refused(t, v.c, repo, v.snapshot, []string{"manifest " + v.snapshot + ": invalid manifest: set object " + name + ": its bytes hash to"})
		os.Remove(filepath.Join(repo, name))
		refused(t, v.c, repo, v.snapshot, []string{"manifest " + v.snapshot + ": invalid manifest: its set object " + name + " is missing"})
		if !local {
			continue // check without local/keys needs the identity's secrets first
		}
		if code, out := v.c.run("check", "--repo", repo); code != exitVerify || !strings.Contains(out, name) {
			t.Fatalf("check: exit %d, want %d naming %s:\n%s", code, exitVerify, name, out)
		}
	}
}
