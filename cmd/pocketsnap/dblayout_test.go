package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

// Issue 18.8: a db snapshot's members lie under db/, so that its export
// unpacks with the seed's manual step (cd /var/lib/conduwuit && rm -rf db
// && tar --zstd -xf db-<UTC>.tar.zst); restore --target unpacks db/'s
// contents; ls and --include paths are relative to db/; and restore
// --archive takes archives of either layout, made by GNU tar, naming the
// one it found.
func TestDBArchiveLayouts(t *testing.T) {
	testenv.NeedTools(t, "tar", "zstd", "age", "sha256sum")
	c := newCLI(t)
	live := filepath.Join(c.dir, "live", "db")
	r := rand.New(rand.NewPCG(11, 12))
	writeRandom(t, filepath.Join(live, "000011.sst"), 200<<10, r)
	writeRandom(t, filepath.Join(live, "CURRENT"), 16, r)
	writeRandom(t, filepath.Join(live, "archive", "000003.log"), 1000, r)
	// Whole seconds, which GNU tar's default format keeps.
	filepath.Walk(live, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			err = os.Chtimes(p, fi.ModTime().Truncate(time.Second), fi.ModTime().Truncate(time.Second))
		}
		return err
	})
	same := func(got, what string) {
		t.Helper()
		if err := testtree.Compare(live, got, testtree.Options{IgnoreRootDir: true}); err != nil {
			t.Errorf("%s differs from the database: %v", what, err)
		}
	}

	c.mustRun("backup", "db", "--source", live)
	snap := c.snapshots()[0]
	paths := lsPaths(c, snap)
	if !slices.Contains(paths, "000011.sst") || !slices.Contains(paths, "archive/000003.log") || slices.Contains(paths, "db/000011.sst") {
		t.Errorf("ls paths are not relative to db/: %q", paths)
	}
	out := filepath.Join(c.dir, "out")
	c.mustRun("restore", snap, "--target", out)
	same(out, "restore --target")
	part := filepath.Join(c.dir, "part")
	c.mustRun("restore", snap, "--target", part, "--include", "archive")
	if !exists(filepath.Join(part, "archive", "000003.log")) || exists(filepath.Join(part, "db")) {
		t.Error("--include archive did not restore db/archive into the target")
	}

	// The seed's manual restore, on the export: check, decrypt, unpack.
	exports := filepath.Join(c.dir, "exports")
	os.MkdirAll(exports, 0o755)
	c.mustRun("export", snap, "-o", exports+"/")
	seed := filepath.Join(c.dir, "seed", "var", "lib", "conduwuit")
	os.MkdirAll(filepath.Join(seed, "db", "stale"), 0o755)
	sh(t, exports, "sha256sum -c "+snap+".tar.zst.age.sha256")
	sh(t, exports, "age -d -i "+c.key()+" -o "+snap+".tar.zst "+snap+".tar.zst.age")
	sh(t, seed, "rm -rf db && tar --zstd -xf "+filepath.Join(exports, snap+".tar.zst"))
	same(filepath.Join(seed, "db"), "the seed's tar -xf of the export")

	// Archives of both layouts, as GNU tar makes them, with their sidecars.
	for _, tc := range []struct{ name, tar, says string }{
		{"db-20260101T000000Z.tar.zst", "tar --zstd -cf %s -C " + filepath.Dir(live) + " db", "members under db/"},
		{"db-20260102T000000Z.tar.zst", "tar --zstd -cf %s -C " + live + " .", "members under ./"},
		{snap + ".tar.zst.age", "", "members under db/"},
	} {
		if tc.tar != "" {
			sh(t, exports, strings.Replace(tc.tar, "%s", tc.name, 1)+" && sha256sum "+tc.name+" >"+tc.name+".sha256")
		}
		target := filepath.Join(c.dir, "from-"+tc.name)
		got := c.mustRun("restore", "--archive", filepath.Join(exports, tc.name), "--target", target)
		if !strings.Contains(got, tc.says) {
			t.Errorf("restore --archive %s does not say %q:\n%s", tc.name, tc.says, got)
		}
		same(target, "restore --archive "+tc.name)
	}
}
