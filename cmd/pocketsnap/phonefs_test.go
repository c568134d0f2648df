package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/fsimage"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

// Issue 21.3: a repository and classic archives under BACKUP_DIR on an SD
// card's exFAT or FAT32 (real images, mounted through a loop device or
// FUSE): backup, rotate, check, restore, export and push work, the lock
// still excludes, and no two names differ only by case.
func TestBackupDirOnSDCard(t *testing.T) {
	for _, kind := range []fsimage.Kind{fsimage.ExFAT, fsimage.VFAT} {
		t.Run(string(kind), func(t *testing.T) {
			mnt := fsimage.Mount(t, kind, 256<<20)
			c := newPushFixture(t)
			backupDir := filepath.Join(mnt, "pocketsnap")
			c.env = append(c.env, "BACKUP_DIR="+backupDir)
			src := filepath.Join(c.dir, "src")
			if err := os.Mkdir(src, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := testtree.Generate(src, 21); err != nil {
				t.Fatal(err)
			}
			created := c.mustRun("backup", "files", "--source", src)
			if !strings.Contains(created, "keeps no permission bits: its local/keys") {
				t.Errorf("creating a repository on %s does not say that its keys cannot be private:\n%s", kind, created)
			}
			c.mustRun("backup", "files", "--source", src)
			c.mustRun("rotate")
			if out := c.mustRun("check", "--read-data"); !strings.Contains(out, "no problems") {
				t.Fatalf("check --read-data on %s:\n%s", kind, out)
			}
			snap := regexp.MustCompile(`files-\d{8}T\d{6}Z`).FindString(c.mustRun("snapshots"))
			out := filepath.Join(c.dir, "out")
			c.mustRun("restore", snap, "--target", out)
			if err := testtree.Compare(src, out, testtree.Options{}); err != nil {
				t.Errorf("restored from %s: %v", kind, err)
			}
			archives := filepath.Join(backupDir, "files")
			c.mustRun("export", snap, "-o", archives+"/")
			ents, err := os.ReadDir(archives)
			if err != nil || len(ents) == 0 {
				t.Fatalf("export wrote nothing to %s: %v", archives, err)
			}
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".age") {
					c.mustRun("verify-archive", filepath.Join(archives, e.Name()))
				}
			}

			// The push sends the packs, manifests and classic archives from
			// the card; a second push has nothing left to send, and the
			// bucket's copy restores on its own.
			first, _ := c.pushJSON()
			if first.SentObjects == 0 || len(first.Snapshots) == 0 {
				t.Fatalf("push from %s sent %d objects, %d snapshots", kind, first.SentObjects, len(first.Snapshots))
			}
			if again, _ := c.pushJSON(); again.PlannedObjects != 0 {
				t.Errorf("a second push from %s plans %d objects again: %+v", kind, again.PlannedObjects, again.Uploads)
			}
			fromBucket := filepath.Join(c.dir, "from-bucket")
			c.mustRun("restore", "--from=remote", snap, "--target", fromBucket)
			if err := testtree.Compare(src, fromBucket, testtree.Options{}); err != nil {
				t.Errorf("restored from the bucket after a push from %s: %v", kind, err)
			}

			// The lock excludes: a backup waits for a holder, then gives up.
			s, err := chunkstore.Open(filepath.Join(backupDir, "repo"))
			if err != nil {
				t.Fatal(err)
			}
			l, err := s.Lock(true)
			if err != nil {
				t.Fatal(err)
			}
			code, msg := c.run("backup", "files", "--source", src, "--lock-wait", "1s")
			l.Unlock()
			s.Close()
			if code == 0 || !strings.Contains(msg, "locked") {
				t.Errorf("backup while the lock is held on %s: exit %d\n%s", kind, code, msg)
			}
			checkNoCaseCollisions(t, backupDir)
		})
	}
}

// checkNoCaseCollisions fails when two names in one directory below root
// differ only by case.
func checkNoCaseCollisions(t *testing.T, root string) {
	t.Helper()
	seen := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		k := strings.ToLower(p)
		if other, ok := seen[k]; ok {
			t.Errorf("%s and %s differ only by case", other, p)
		}
		seen[k] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Issue 21.3: where the filesystem keeps no permission bits the secrets
// file cannot be 0600; push refuses it and says why and what to do,
// instead of relaxing the rule.
func TestSecretsFileOnSDCardIsRefused(t *testing.T) {
	mnt := fsimage.Mount(t, fsimage.ExFAT, 64<<20)
	c := newCLI(t)
	dataDir := filepath.Join(mnt, "data")
	c.env = append(c.env, "DATA_DIR="+dataDir, "ENABLE_OFFSITE_BACKUP=true")
	secrets := filepath.Join(dataDir, "secrets", "offsite.env")
	if err := os.MkdirAll(filepath.Dir(secrets), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secrets, []byte("S3_ENDPOINT=https://s3.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(secrets, 0o600) // has no effect there
	c.mustRun("init")
	code, out := c.run("push")
	for _, want := range []string{secrets, "keeps no permission bits", "cannot be made private", "hint: keep DATA_DIR"} {
		if code == 0 || !strings.Contains(out, want) {
			t.Errorf("push with the secrets file on exFAT: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}
