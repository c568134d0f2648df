package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

// Issue 17.3: one flipped bit in local/index made a read-only check
// shrink it and leave intact snapshots unrestorable; a deleted index made
// every later backup fail. Now, for a bit flip, a truncation and a
// deletion, with the real binary and no identity on the device: check
// succeeds, says once what happened and leaves the file alone; the next
// backup rewrites it; check --read-data and a restore (with the identity)
// give back every snapshot.
func TestDamagedIndexBackupCheckRestore(t *testing.T) {
	for _, damage := range []struct {
		name string
		do   func(b []byte) []byte // nil: delete the file
	}{
		{"bit flip", func(b []byte) []byte { b[len(b)/2] ^= 0x04; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)/3] }},
		{"deleted", nil},
	} {
		t.Run(damage.name, func(t *testing.T) {
			c := newCLI(t)
			device := c.with("BACKUP_AGE_IDENTITY=") // the phone has no identity
			src := filepath.Join(c.dir, "src")
			os.MkdirAll(src, 0o755)
			if err := testtree.Generate(src, 17); err != nil {
				t.Fatal(err)
			}
			device.mustRun("backup", "files", "--source", src)
			os.WriteFile(filepath.Join(src, "new-file"), []byte("written between the backups\n"), 0o644)
			device.mustRun("backup", "files", "--source", src)
			first := c.snapshots()

			index := filepath.Join(c.dir, "data", "backups", "repo", "local", "index")
			b, err := os.ReadFile(index)
			if err != nil {
				t.Fatal(err)
			}
			if damage.do == nil {
				os.Remove(index)
			} else {
				os.WriteFile(index, damage.do(b), 0o600)
			}
			before, _ := os.ReadFile(index)

			out := device.mustRun("check")
			if n := strings.Count(out, "local/index"); n != 1 || !strings.Contains(out, "pocketsnap repair index") {
				t.Errorf("check should say once what happened to local/index and how to repair it:\n%s", out)
			}
			if after, _ := os.ReadFile(index); !bytes.Equal(after, before) {
				t.Fatal("a reading command changed local/index")
			}
			device.mustRun("backup", "files", "--source", src)
			if out := device.mustRun("check"); strings.Contains(out, "local/index") {
				t.Errorf("after a backup, check still warns:\n%s", out)
			}
			c.mustRun("check", "--read-data")
			for _, name := range first {
				target := filepath.Join(c.dir, "restore-"+name)
				c.mustRun("restore", name, "--target", target)
				if name == first[len(first)-1] {
					if err := testtree.Compare(src, target, testtree.Options{IgnoreOwner: os.Geteuid() != 0}); err != nil {
						t.Fatalf("%s restored: %v", name, err)
					}
				}
			}
		})
	}
}

// Issue 17.3 and 20: 'pocketsnap repair index' rebuilds a version 2
// index on the device without the identity.
func TestRepairIndexCommand(t *testing.T) {
	c := newCLI(t)
	device := c.with("BACKUP_AGE_IDENTITY=")
	src := filepath.Join(c.dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("content\n"), 0o644)
	device.mustRun("backup", "files", "--source", src)
	index := filepath.Join(c.dir, "data", "backups", "repo", "local", "index")
	want, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(index)
	out := device.mustRun("repair", "index")
	if !strings.Contains(out, "rebuilt") {
		t.Errorf("repair printed:\n%s", out)
	}
	if got, _ := os.ReadFile(index); len(got) != len(want) {
		t.Errorf("rebuilt index is %d bytes, the original %d", len(got), len(want))
	}
	if code, out := device.run("repair"); code != exitUsage {
		t.Errorf("repair without a subject: exit %d\n%s", code, out)
	}
}

// Issues 17.3 and 20: the committed version 1 repository keeps working
// on a device: with its index gone, commands say that the identity is
// needed and how to rebuild; 'repair index' with the identity does; a
// backup into it writes version 1 packs (a whole pack is an age file
// again), and check --read-data and a restore give the new snapshot back.
func TestRepoV1FixtureOnADevice(t *testing.T) {
	c := fixtureCLI(t, fixtureV1)
	device := &fixtureRepo{cli: c.with("BACKUP_AGE_IDENTITY="), repo: c.repo, src: c.src}
	index := filepath.Join(c.repo, "local", "index")
	os.Remove(index)
	for _, args := range [][]string{{"check"}, {"backup", "files", "--source", c.dir}} {
		code, out := device.run(append(args, "--repo", c.repo)...)
		if code != exitIdentity || !strings.Contains(out, "version 1 repository") || !strings.Contains(out, "pocketsnap repair index") {
			t.Errorf("%s without local/index: exit %d, want %d and the way out:\n%s", args[0], code, exitIdentity, out)
		}
	}
	if _, err := os.Stat(index); !os.IsNotExist(err) {
		t.Fatalf("local/index was written without the identity: %v", err)
	}
	c.mustRun("repair", "index", "--repo", c.repo)

	src := filepath.Join(c.dir, "src")
	os.MkdirAll(src, 0o755)
	if err := testtree.Generate(src, 20); err != nil {
		t.Fatal(err)
	}
	before := packSetOf(t, c.repo)
	device.mustRun("backup", "files", "--source", src, "--repo", c.repo)
	cfg, err := os.ReadFile(filepath.Join(c.repo, "config"))
	if err != nil {
		t.Fatal(err)
	}
	if parsed, err := chunkstore.ParseConfig(cfg); err != nil || parsed.Version != 1 {
		t.Fatalf("config after a backup: version %d, %v", parsed.Version, err)
	}
	testenv.NeedTools(t, "age")
	for name := range packSetOf(t, c.repo) {
		if before[name] {
			continue
		}
		// A version 1 pack is exactly an age file.
		if out, err := exec.Command("age", "-d", "-i", filepath.Join(c.dir, "identity.txt"), "-o", os.DevNull, filepath.Join(c.repo, name)).CombinedOutput(); err != nil {
			t.Fatalf("age -d %s: %v\n%s", name, err, out)
		}
	}
	c.mustRun("check", "--read-data", "--repo", c.repo)
	added, _ := filepath.Glob(filepath.Join(c.repo, "snapshots", "files-*"))
	if len(added) != 1 {
		t.Fatalf("snapshots of the backup: %v", added)
	}
	name := filepath.Base(added[0])
	target := filepath.Join(c.dir, "restored")
	c.mustRun("restore", name, "--target", target, "--repo", c.repo)
	if err := testtree.Compare(src, target, testtree.Options{IgnoreOwner: os.Geteuid() != 0}); err != nil {
		t.Fatal(err)
	}
	for _, s := range fixtureSnapshots {
		c.restoreMatches(s.name)
	}
}

// packSetOf returns the repository-relative names of a repository's packs.
func packSetOf(t *testing.T, repo string) map[string]bool {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range paths {
		rel, _ := filepath.Rel(repo, p)
		out[rel] = true
	}
	return out
}
