package job

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
)

// Issue 19: backup --compat's classic archive is the job's, not the
// CLI's. Written in the same pass, it is committed under the snapshot's
// name in BACKUP_DIR/KIND before Saved sees the result, and GNU tar and
// sha256sum read it back; a kind whose archives would go into the
// repository itself is refused before anything is saved.
func TestBackupWritesClassicArchive(t *testing.T) {
	testenv.NeedTools(t, "sha256sum", "zstd", "tar")
	s, src := newRepo(t)
	backupDir := filepath.Join(filepath.Dir(src), "backups")
	opt := BackupOptions{Kind: "notes", Source: src, Tool: "test", Compat: &CompatOptions{BackupDir: backupDir}}
	var seen *compat.Written
	opt.Saved = func(res *BackupResult) error {
		seen = res.Archive
		return nil
	}
	res, err := Backup(t.Context(), s, opt, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(backupDir, "notes", compat.FileName(res.Manifest.Name, false))
	if seen == nil || seen != res.Archive || res.Archive.Path != want {
		t.Fatalf("Saved saw %+v, result %+v, want the archive %s", seen, res.Archive, want)
	}
	sum := exec.Command("sha256sum", "-c", filepath.Base(res.Archive.Sidecar))
	sum.Dir = filepath.Dir(want)
	if out, err := sum.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	list, err := exec.Command("sh", "-c", `zstd -dc "$1" | tar -tf -`, "sh", want).CombinedOutput()
	if err != nil || !strings.Contains(string(list), "n.txt") {
		t.Fatalf("tar -t of %s: %v\n%s", want, err, list)
	}
	entries, err := os.ReadDir(filepath.Dir(want))
	if err != nil || len(entries) != 2 {
		t.Errorf("%s holds %v (%v), want the archive and its sidecar only", filepath.Dir(want), entries, err)
	}

	opt.Kind, opt.Compat.BackupDir = filepath.Base(s.Dir()), filepath.Dir(s.Dir())
	if _, err := Backup(t.Context(), s, opt, &recorder{}); err == nil || !strings.Contains(err.Error(), "classic archives would go into the repository") {
		t.Fatalf("a classic archive into the repository: %v", err)
	}
	if last, _ := LastSuccess(s, opt.Kind); !last.IsZero() {
		t.Errorf("a refused backup saved a snapshot at %v", last)
	}
}
