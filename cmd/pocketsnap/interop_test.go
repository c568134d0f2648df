package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

// Acceptance (core issue, interop): a snapshot is recovered by hand, as
// doc/format.md says, with the real age, zstd and GNU tar and the shipped
// script, and the tree is identical.
func TestRecoverByHandWithAgeZstdTar(t *testing.T) {
	testenv.NeedTools(t, "age", "zstd", "tar", "python3")
	for _, encrypted := range []bool{true, false} {
		c := newCLI(t)
		key := filepath.Join(c.dir, "key.txt")
		if !encrypted {
			c.env = append(c.env, "BACKUP_AGE_RECIPIENT=")
		} else {
			c.env = append(c.env, "PACK_PADDING=padme") // the script reads padded packs too
		}
		src := filepath.Join(c.dir, "src")
		os.MkdirAll(src, 0o755)
		if err := testtree.Generate(src, 21); err != nil {
			t.Fatal(err)
		}
		fp := fingerprintRE.FindStringSubmatch(c.mustRun("backup", "files", "--source", src))
		if fp == nil {
			t.Fatal("the backup that created the repository printed no fingerprint")
		}
		c.mustRun("backup", "files", "--source", src) // a second, files-cache snapshot
		names := c.snapshots()
		out := filepath.Join(c.dir, "out")
		os.Mkdir(out, 0o755)
		script, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "pocketsnap-recover"))
		identity := ""
		if encrypted {
			identity = "-i " + key
		}
		pipe := strings.Join([]string{
			"set -o pipefail;", "python3", script, filepath.Join(c.dir, "data", "backups", "repo"), names[1], identity, "-f", fp[1],
			"| zstd -d | tar -xpf - -C", out,
		}, " ")
		cmd := exec.Command("bash", "-c", pipe)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("encrypted=%v: %s: %v\n%s", encrypted, pipe, err, b)
		}
		if err := testtree.Compare(src, out, testtree.Options{IgnoreOwner: os.Geteuid() != 0}); err != nil {
			t.Fatalf("encrypted=%v: recovered tree differs: %v", encrypted, err)
		}
	}
}
