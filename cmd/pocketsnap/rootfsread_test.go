package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rootfsTree makes the CLI's directory a rootfs: it already holds the
// repository (in data/backups), and gets a database at the default DB_DIR,
// an aside directory a restore left, and a file. It returns the log file
// the service commands write to, outside the rootfs.
func rootfsTree(t *testing.T, c *cli) (log string) {
	t.Helper()
	r := rand.New(rand.NewPCG(9, 10))
	db := filepath.Join(c.dir, "var", "lib", "conduwuit", "db")
	writeRandom(t, filepath.Join(db, "000011.sst"), 256<<10, r)
	writeRandom(t, filepath.Join(db, "CURRENT"), 16, r)
	writeRandom(t, filepath.Join(c.dir, "srv", "media.broken-20261206T040000Z", "old"), 1000, r)
	writeRandom(t, filepath.Join(c.dir, "etc", "hostname"), 10, r)
	return filepath.Join(t.TempDir(), "log")
}

// backupJSON runs a backup with --json and returns its summary and the
// whole output.
func backupJSON(t *testing.T, c *cli, args ...string) (backupSummary, string) {
	t.Helper()
	out := c.mustRun(append(append([]string{"backup"}, args...), "--json")...)
	var sum backupSummary
	for line := range strings.Lines(out) {
		if strings.Contains(line, `"message_type":"summary"`) {
			if err := json.Unmarshal([]byte(line), &sum); err != nil {
				t.Fatal(err)
			}
		}
	}
	if sum.Snapshot == "" {
		t.Fatalf("no summary:\n%s", out)
	}
	return sum, out
}

// lsPaths lists a snapshot's paths.
func lsPaths(c *cli, snap string) []string {
	var paths []string
	for line := range strings.Lines(c.mustRun("ls", snap)) {
		if p := strings.TrimSpace(line); p != "" && !strings.HasPrefix(p, "repository fingerprint") && !strings.HasPrefix(p, "pocketsnap:") {
			paths = append(paths, p)
		}
	}
	return paths
}

func readLog(t *testing.T, log string) string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// Issue 18.11: with DB_STOP_CMD set and DB_DIR inside ROOTFS_DIR, a rootfs
// backup stages the database the db kind's way and stores the staged copy
// at DB_DIR's path (its blobs are the db snapshot's); it never reads the
// repository, BACKUP_DIR or an aside directory, and says what it skipped.
func TestRootfsStagesTheDatabaseInside(t *testing.T) {
	c := newCLI(t)
	log := rootfsTree(t, c)
	c = c.with("ROOTFS_DIR="+c.dir,
		"DB_STOP_CMD=sh -c 'echo db-stop >>"+log+"'", "DB_START_CMD=sh -c 'echo db-start >>"+log+"'")
	db, _ := backupJSON(t, c, "db")
	sum, out := backupJSON(t, c, "rootfs")
	if got := readLog(t, log); got != "db-stop\ndb-start\ndb-stop\ndb-start\n" {
		t.Errorf("service commands ran as:\n%s", got)
	}
	// The database's staging beside DB_DIR is pocketsnap's own too.
	if want := []string{"data/backups", "srv/media.broken-20261206T040000Z"}; len(sum.Skipped) != 3 ||
		!slices.Equal(sum.Skipped[:2], want) || !strings.HasPrefix(sum.Skipped[2], "var/lib/conduwuit/db.pocketsnap-staging-") {
		t.Errorf("skipped %q, want %q and the database's staging:\n%s", sum.Skipped, want, out)
	}
	paths := lsPaths(c, sum.Snapshot)
	for _, p := range []string{"var/lib/conduwuit/db/000011.sst", "var/lib/conduwuit/db/CURRENT", "etc/hostname"} {
		if !slices.Contains(paths, p) {
			t.Errorf("%s is not in the rootfs snapshot: %q", p, paths)
		}
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "data/backups/") || strings.Contains(p, ".broken-") || strings.Contains(p, ".pocketsnap-staging-") {
			t.Errorf("the rootfs snapshot holds %s", p)
		}
	}
	// The 256 KiB of random SST are stored once, by the db snapshot.
	if sum.AddedBytes > 64<<10 || db.AddedBytes < 256<<10 {
		t.Errorf("db snapshot added %d bytes, rootfs %d: the database's blobs are not shared", db.AddedBytes, sum.AddedBytes)
	}
	if left, _ := filepath.Glob(filepath.Join(c.dir, "var/lib/conduwuit/db.pocketsnap-staging-*")); len(left) != 0 {
		t.Errorf("staging left behind: %v", left)
	}
}

// Issue 18.11: with neither ROOTFS_STOP_CMD nor DB_STOP_CMD, the live
// database inside the rootfs is stored as an empty directory, with one
// warning saying why.
func TestRootfsLeavesALiveDatabaseOut(t *testing.T) {
	c := newCLI(t)
	rootfsTree(t, c)
	c = c.with("ROOTFS_DIR=" + c.dir)
	sum, out := backupJSON(t, c, "rootfs")
	if n := strings.Count(out, "pocketsnap: warning: "+filepath.Join(c.dir, "var/lib/conduwuit/db")+" is stored as an empty directory"); n != 1 {
		t.Errorf("%d warnings about the database, want 1:\n%s", n, out)
	}
	paths := lsPaths(c, sum.Snapshot)
	if !slices.Contains(paths, "var/lib/conduwuit/db") || slices.Contains(paths, "var/lib/conduwuit/db/000011.sst") {
		t.Errorf("the live database was read: %q", paths)
	}
}

// Issue 18.11: ROOTFS_STOP_CMD and ROOTFS_START_CMD bracket the read of the
// rootfs itself, with no staging copy: the database inside is read in
// place while everything is stopped, and the downtime is recorded.
func TestRootfsStopBracketsTheRead(t *testing.T) {
	c := newCLI(t)
	log := rootfsTree(t, c)
	marker := filepath.Join(c.dir, "run", "stopped")
	parent := filepath.Dir(c.dir)
	c = c.with("ROOTFS_DIR="+c.dir,
		"ROOTFS_STOP_CMD=sh -c 'mkdir -p "+filepath.Dir(marker)+" && touch "+marker+" && echo stop >>"+log+"'",
		// The start command lists what lies beside and inside the rootfs:
		// no staging copy of either.
		"ROOTFS_START_CMD=sh -c 'rm "+marker+" && echo start >>"+log+" && ls "+parent+" "+filepath.Join(c.dir, "var/lib/conduwuit")+" >>"+log+"'")
	sum, out := backupJSON(t, c, "rootfs")
	got := readLog(t, log)
	if !strings.HasPrefix(got, "stop\nstart\n") || strings.Contains(got, "pocketsnap-staging") {
		t.Errorf("service commands and what they saw:\n%s", got)
	}
	paths := lsPaths(c, sum.Snapshot)
	for _, p := range []string{"run/stopped", "var/lib/conduwuit/db/000011.sst"} {
		if !slices.Contains(paths, p) {
			t.Errorf("%s is not in the snapshot, so the rootfs was not read while stopped: %q", p, paths)
		}
	}
	if exists(marker) || sum.DowntimeMS == 0 && !strings.Contains(got, "start") {
		t.Errorf("ROOTFS_START_CMD did not run:\n%s", out)
	}
	if out := c.mustRun("backup", "rootfs"); !strings.Contains(out, "no staging copy") {
		t.Errorf("the downtime is not reported:\n%s", out)
	}
	if !strings.Contains(c.mustRun("snapshots", "--kind", "rootfs", "--json"), `"downtime_ms"`) {
		t.Error("the downtime is not recorded")
	}
}
