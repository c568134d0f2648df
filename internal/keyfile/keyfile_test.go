package keyfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// writeIdentity writes a fresh age identity to dir/name with mode perm.
func writeIdentity(t *testing.T, dir, name string, perm os.FileMode) (string, *age.X25519Identity) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(id.String()+"\n"), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path, id
}

// Issue 17.6: a private identity file is read; one group or others may
// read is refused with the chmod that fixes it, and read once fixed.
func TestIdentitiesLoose(t *testing.T) {
	path, id := writeIdentity(t, t.TempDir(), "key.txt", 0o640)
	_, err := Identities("BACKUP_AGE_IDENTITY", path)
	var le *LooseError
	if !errors.As(err, &le) || !errors.Is(err, ErrLoose) {
		t.Fatalf("got %v, want a *LooseError", err)
	}
	if want := "BACKUP_AGE_IDENTITY " + path + " is readable by group or others (mode 0640); refusing to use it"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if le.Mode != 0o640 || le.FS != "" || le.Hint() != "run: chmod 600 "+path {
		t.Errorf("LooseError %+v, hint %q", le, le.Hint())
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	ids, err := Identities("BACKUP_AGE_IDENTITY", path)
	if err != nil || len(ids) != 1 || ids[0].(*age.X25519Identity).Recipient().String() != id.Recipient().String() {
		t.Fatalf("after chmod 600: %v, %v", ids, err)
	}
}

// Issue 17.6: a file that is not an identity is refused without quoting
// it (it may be key material); a missing one gives the open error.
func TestIdentitiesInvalidOrMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.txt")
	const secret = "AGE-SECRET-KEY-1NOTAVALIDKEYBUTSECRETLOOKING"
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Identities("BACKUP_AGE_IDENTITY", path)
	if !errors.Is(err, ErrInvalidIdentity) || strings.Contains(err.Error(), "NOTAVALID") {
		t.Fatalf("got %v, want ErrInvalidIdentity not quoting the file", err)
	}
	_, err = Identities("BACKUP_AGE_IDENTITY", filepath.Join(dir, "missing.txt"))
	var pe *fs.PathError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want the open's *fs.PathError", err)
	}
}

// Issue 17.6: on FAT or Android's shared storage, where chmod has no
// effect, the filesystem is named and the hint is to copy the identity
// into $HOME instead.
func TestIdentitiesWhereChmodFails(t *testing.T) {
	mnt := testenv.LooseMount(t)
	if NoModesFS(mnt) == "" {
		t.Fatalf("NoModesFS(%s) = \"\" on a mount that keeps no permission bits", mnt)
	}
	if fs := NoModesFS(t.TempDir()); fs != "" {
		t.Errorf("NoModesFS of a temporary directory = %q", fs)
	}
	path, _ := writeIdentity(t, mnt, "key.txt", 0o600) // the chmod has no effect: that is the point
	_, err := Identities("BACKUP_AGE_IDENTITY", path)
	var le *LooseError
	if !errors.As(err, &le) || le.FS == "" {
		t.Fatalf("got %v, want a *LooseError naming the filesystem", err)
	}
	if !strings.Contains(err.Error(), "which keeps no permission bits: it cannot be made private there") ||
		le.Hint() != "copy it into $HOME first (install -m 600 "+path+" ~/key.txt) and point BACKUP_AGE_IDENTITY at the copy" {
		t.Errorf("error %q, hint %q", err, le.Hint())
	}
}
