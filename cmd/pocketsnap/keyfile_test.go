package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// Issue 17.6: an identity file that group or others can read is refused,
// as ssh refuses such a private key, with the chmod that fixes it.
func TestLooseIdentityRefused(t *testing.T) {
	c := newCLI(t)
	c.mustRun("init")
	if err := os.Chmod(c.key(), 0o640); err != nil {
		t.Fatal(err)
	}
	code, out := c.run("check", "--read-data")
	if code != exitError || !strings.Contains(out, "pocketsnap: error: BACKUP_AGE_IDENTITY "+c.key()+" is readable by group or others (mode 0640); refusing to use it") ||
		!strings.Contains(out, "pocketsnap: hint: run: chmod 600 "+c.key()) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if err := os.Chmod(c.key(), 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustRun("check", "--read-data")
}

// Issue 17.6: on FAT or Android's shared storage, where chmod has no
// effect, the hint says to copy the identity into $HOME instead.
func TestLooseIdentityWhereChmodFails(t *testing.T) {
	c := newCLI(t)
	c.mustRun("init")
	key := filepath.Join(testenv.LooseMount(t), "key.txt")
	b, err := os.ReadFile(c.key())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, b, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(key, 0o600) // has no effect: that is the point
	code, out := c.with("BACKUP_AGE_IDENTITY="+key).run("check", "--read-data")
	if code != exitError || !strings.Contains(out, "is readable by group or others (mode 0755)") ||
		!strings.Contains(out, "which keeps no permission bits: it cannot be made private there") ||
		!strings.Contains(out, "pocketsnap: hint: copy it into $HOME first (install -m 600 "+key+" ~/key.txt) and point BACKUP_AGE_IDENTITY at the copy") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// Issue 17.6: an invalid BACKUP_AGE_RECIPIENT is refused, naming the key,
// even on an existing repository that encrypts to its own recipients.
func TestInvalidRecipientRefused(t *testing.T) {
	c := newCLI(t)
	c.mustRun("init")
	src := filepath.Join(c.dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	code, out := c.with("BACKUP_AGE_RECIPIENT=age1notarecipient").run("backup", "files", "--source", src)
	if code != exitError || !strings.Contains(out, "pocketsnap: error: BACKUP_AGE_RECIPIENT") ||
		!strings.Contains(out, "pocketsnap: hint: correct the key where it is set") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if len(c.snapshots()) != 0 {
		t.Error("a backup ran with an invalid recipient configured")
	}
}
