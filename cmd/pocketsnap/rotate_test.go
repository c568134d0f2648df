package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/prune"
)

// inProcess runs a pocketsnap command line in this process, with a
// configuration from the environment only.
func inProcess(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// rotateEnv isolates the configuration: DATA_DIR in a temporary
// directory, no env file, no retention keys or identity inherited.
func rotateEnv(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	t.Setenv("DATA_DIR", data)
	t.Setenv("POCKETSNAP_ENV_FILE", "/dev/null")
	for _, k := range []string{"BACKUP_DIR", "BACKUP_REPO", "BACKUP_KEEP_DB", "BACKUP_KEEP_ROOTFS", "BACKUP_AGE_IDENTITY", "BACKUP_AGE_RECIPIENT"} {
		t.Setenv(k, "")
	}
	return data
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
}

// liveSet is the blobs the kept snapshots reference, computed the plain
// way, independently of chunkstore.Usage.
func liveSet(t *testing.T, s *chunkstore.Store, kept []string) map[chunkstore.ID]bool {
	t.Helper()
	live := map[chunkstore.ID]bool{}
	for _, n := range kept {
		m, err := manifest.Load(s, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range m.Blobs {
			live[id] = true
		}
	}
	return live
}

func packSet(t *testing.T, s *chunkstore.Store) map[chunkstore.ID]bool {
	t.Helper()
	packs, err := s.ListPacks()
	if err != nil {
		t.Fatal(err)
	}
	out := map[chunkstore.ID]bool{}
	for _, p := range packs {
		out[p.ID] = true
	}
	return out
}

// Issue 5, acceptance 1: 6 db and 6 rootfs snapshots under the default
// counts leave 3 and 4; exactly the packs that only deleted snapshots used
// are gone; a repack then leaves no pack more than half dead, and every
// kept snapshot restores.
func TestRotateCountsAndRepack(t *testing.T) {
	rotateEnv(t)
	r := repotest.New(t, false)
	rng := rand.New(rand.NewPCG(7, 7))
	src := filepath.Join(t.TempDir(), "src")
	for k := range 10 {
		writeRandom(t, filepath.Join(src, "etc", fmt.Sprint("base-", k)), 4<<10, rng)
	}
	for k := range 4 {
		writeRandom(t, filepath.Join(src, "db", fmt.Sprint("base-", k)), 40<<10, rng)
	}
	trees := t.TempDir()
	want := map[string]string{} // snapshot → the tree it holds
	t0 := time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)
	for i := range 6 {
		// Every round replaces some data; even rounds also add data that
		// stays. The packs of old rounds die wholly or in part.
		if i%2 == 0 {
			writeRandom(t, filepath.Join(src, "db", fmt.Sprint("keep-", i)), 100<<10, rng)
			writeRandom(t, filepath.Join(src, "etc", fmt.Sprint("keep-", i)), 50<<10, rng)
		}
		writeRandom(t, filepath.Join(src, "db", "temp"), 500<<10, rng)
		writeRandom(t, filepath.Join(src, "etc", "temp"), 400<<10, rng)
		tree := filepath.Join(trees, fmt.Sprint(i))
		copyTree(t, src, tree)
		for j, kind := range []string{"db", "rootfs"} {
			dir := tree
			if kind == "db" {
				dir = filepath.Join(tree, "db")
			}
			now := t0.Add(time.Duration(i)*24*time.Hour + time.Duration(j)*time.Minute)
			res := r.Backup(t, kind, dir, func(o *pipeline.Options) { o.Now = func() time.Time { return now } })
			want[res.Manifest.Name] = dir
		}
	}
	s := r.Open(t, false)
	names, err := manifest.Names(s)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for kind, n := range map[string]int{"db": 3, "rootfs": 4} {
		var ofKind []string
		for _, name := range names {
			if strings.HasPrefix(name, kind+"-") {
				ofKind = append(ofKind, name)
			}
		}
		keep = append(keep, ofKind[len(ofKind)-n:]...)
	}
	slices.Sort(keep)
	live := liveSet(t, s, keep)
	ix, err := s.Index()
	if err != nil {
		t.Fatal(err)
	}
	before := packSet(t, s)
	gone := map[chunkstore.ID]bool{}
	for _, p := range ix.Packs() {
		if !slices.ContainsFunc(p.Blobs, func(b chunkstore.BlobEntry) bool { return live[b.ID] }) {
			gone[p.ID] = true
		}
	}
	if len(gone) == 0 || len(gone) == len(before) {
		t.Fatalf("test data: %d of %d packs die; want some, not all", len(gone), len(before))
	}

	t.Logf("%d of %d packs hold blobs of deleted snapshots only", len(gone), len(before))
	code, stdout, stderr := inProcess(t, "rotate", "--repo", r.Dir)
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("rotate:\n%s", stdout)
	if !strings.Contains(stdout, "deleted 5 of 12 snapshots") || !strings.Contains(stdout, "a repack would free about") {
		t.Errorf("rotate output:\n%s", stdout)
	}
	s = r.Open(t, false)
	if got, _ := manifest.Names(s); !slices.Equal(sortedCopy(got), keep) {
		t.Fatalf("kept %q\nwant %q", got, keep)
	}
	after := packSet(t, s)
	for id := range before {
		if after[id] == gone[id] {
			t.Errorf("pack %s: present %v, but only deleted snapshots used it: %v", id.Short(), after[id], gone[id])
		}
	}

	// With the identity, a repack rewrites the packs more than 50% dead.
	key := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(key, []byte(r.Identity.String()+"\n"), 0o600)
	t.Setenv("BACKUP_AGE_IDENTITY", key)
	code, stdout, stderr = inProcess(t, "rotate", "--repo", r.Dir, "--repack")
	if code != 0 || !strings.Contains(stdout, "repacked ") {
		t.Fatalf("rotate --repack: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("rotate --repack:\n%s", stdout)
	s = r.Open(t, true)
	if got, _ := manifest.Names(s); !slices.Equal(sortedCopy(got), keep) {
		t.Fatalf("repack changed the snapshots: %q", got)
	}
	ix, err = s.Index()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ix.Packs() {
		var all, dead int64
		for _, b := range p.Blobs {
			all += int64(b.Length)
			if !live[b.ID] {
				dead += int64(b.Length)
			}
		}
		if float64(dead) > 0.5*float64(all) {
			t.Errorf("pack %s is %d%% dead after the repack", p.ID.Short(), 100*dead/all)
		}
	}
	if code, out, errs := inProcess(t, "check", "--repo", r.Dir, "--read-data"); code != 0 {
		t.Fatalf("check --read-data: exit %d\n%s%s", code, out, errs)
	}
	for _, name := range keep {
		target := filepath.Join(t.TempDir(), "out")
		if code, out, errs := inProcess(t, "restore", name, "--repo", r.Dir, "--target", target); code != 0 {
			t.Fatalf("restore %s: exit %d\n%s%s", name, code, out, errs)
		}
		if err := testtree.Compare(want[name], target, testtree.Options{IgnoreOwner: os.Geteuid() != 0}); err != nil {
			t.Errorf("%s restores differently: %v", name, err)
		}
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// Issue 5, acceptance 2: old classic archives go with every companion,
// newer ones stay whole, and no sidecar is left without its archive.
func TestRotateClassicArchives(t *testing.T) {
	data := rotateEnv(t)
	t.Setenv("BACKUP_KEEP_NOTES", "2")
	backups := filepath.Join(data, "backups")
	files := map[string][]string{
		"db": {
			"db-20261119T040000Z.tar.zst.age.sha256", // a sidecar whose archive is gone
			"db-20261120T040000Z.tar.zst", "db-20261120T040000Z.tar.zst.sha256",
			"db-20261121T040000Z.tar.zst.age", "db-20261121T040000Z.tar.zst.age.sha256", "db-20261121T040000Z.tar.zst.sha256",
			"db-20261122T040000Z.tar.zst.age.part-000", "db-20261122T040000Z.tar.zst.age.part-001",
			"db-20261122T040000Z.tar.zst.age.sha256",
			"db-20261123T040000Z.tar.zst.age", "db-20261123T040000Z.tar.zst.age.sha256",
			"db-20261124T040000Z.tar.zst.age", "db-20261124T040000Z.tar.zst.age.sha256",
			"db-20261125T040000Z.tar.zst.age", "db-20261125T040000Z.tar.zst.age.sha256",
			"db-20261126T040000Z.tar.zst.age", // being written: no sidecar yet
			"notes.txt", "db-20261101T040000Z.tar.gz",
		},
		"rootfs": {},
		"notes":  {},
		"misc":   {},
	}
	for d := range 6 {
		base := fmt.Sprintf("rootfs-202611%02dT040000Z.tar.zst", 20+d)
		files["rootfs"] = append(files["rootfs"], base+".age", base+".age.sha256")
		files["notes"] = append(files["notes"], strings.Replace(base, "rootfs", "notes", 1), strings.Replace(base, "rootfs", "notes", 1)+".sha256")
		files["misc"] = append(files["misc"], strings.Replace(base, "rootfs", "misc", 1), strings.Replace(base, "rootfs", "misc", 1)+".sha256")
	}
	for kind, names := range files {
		for _, n := range names {
			p := filepath.Join(backups, kind, n)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	listing := func() map[string][]string {
		out := map[string][]string{}
		for kind := range files {
			ents, _ := os.ReadDir(filepath.Join(backups, kind))
			for _, e := range ents {
				out[kind] = append(out[kind], e.Name())
			}
		}
		return out
	}
	all := listing()

	code, stdout, stderr := inProcess(t, "rotate", "--dry-run", "--json")
	if code != 0 {
		t.Fatalf("rotate --dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	var rep prune.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	if !rep.DryRun || len(rep.Archives) != 4+2+4 {
		t.Errorf("dry run would delete %d archives, want 10:\n%s", len(rep.Archives), stdout)
	}
	if got := listing(); fmt.Sprint(got) != fmt.Sprint(all) {
		t.Fatal("the dry run deleted files")
	}

	if code, stdout, stderr = inProcess(t, "rotate"); code != 0 {
		t.Fatalf("rotate: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "rotating classic archives only") {
		t.Errorf("no word that there is no repository:\n%s", stderr)
	}
	got := listing()
	keptDays := map[string][]string{
		"db":     {"23", "24", "25", "26"},
		"rootfs": {"22", "23", "24", "25"},
		"notes":  {"24", "25"},
		"misc":   {"20", "21", "22", "23", "24", "25"},
	}
	for kind, names := range all {
		for _, n := range names {
			kept := !strings.HasPrefix(n, kind+"-202611") || strings.HasSuffix(n, ".tar.gz")
			for _, d := range keptDays[kind] {
				kept = kept || strings.HasPrefix(n, kind+"-202611"+d)
			}
			if slices.Contains(got[kind], n) != kept {
				t.Errorf("%s/%s: kept %v, want %v", kind, n, !kept, kept)
			}
		}
		for _, n := range got[kind] {
			if archive, ok := strings.CutSuffix(n, ".sha256"); ok && !slices.Contains(got[kind], archive) {
				t.Errorf("%s/%s: a sidecar without its archive", kind, n)
			}
		}
	}
}

func TestRotateRejectsBadSettings(t *testing.T) {
	rotateEnv(t)
	for _, tc := range []struct {
		env, flag, want string
		code            int
	}{
		{env: "BACKUP_KEEP_DB=0", want: "BACKUP_KEEP_DB (environment): \"0\" is not a positive number", code: exitError},
		{env: "BACKUP_KEEP_NOTES=three", want: "BACKUP_KEEP_NOTES (environment)", code: exitError},
		{flag: "--keep=db", want: "--keep db: ", code: exitUsage},
		{flag: "--keep=Bad=2", want: "invalid kind", code: exitUsage},
		{flag: "--repack-threshold=150%", want: "not a percentage", code: exitUsage},
		{flag: "--keep-daily=-1", want: "count of 0 or more", code: exitUsage},
	} {
		t.Run(tc.env+tc.flag, func(t *testing.T) {
			if k, v, ok := strings.Cut(tc.env, "="); ok {
				t.Setenv(k, v)
			}
			args := []string{"rotate"}
			if tc.flag != "" {
				args = append(args, tc.flag)
			}
			code, _, stderr := inProcess(t, args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", code, tc.code, tc.want, stderr)
			}
		})
	}
}

// A rotate that meets a held lock says once whom it waits for, and gives
// up after --lock-wait with exit 4, naming the holder's pid.
func TestRotateWaitsForTheLock(t *testing.T) {
	rotateEnv(t)
	r := repotest.New(t, false)
	s := r.Open(t, false)
	lock, err := s.Lock(true)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := inProcess(t, "rotate", "--repo", r.Dir, "--lock-wait", "300ms")
	pid := fmt.Sprintf("locked by pid %d", os.Getpid())
	if code != exitLocked || strings.Count(stderr, "waiting up to 300ms: repository is "+pid) != 1 ||
		!strings.Contains(stderr, "error: gave up after waiting 300ms: repository is "+pid) {
		t.Fatalf("exit %d, want %d:\n%s", code, exitLocked, stderr)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(200 * time.Millisecond)
		lock.Unlock()
	}()
	code, stdout, stderr := inProcess(t, "rotate", "--repo", r.Dir)
	<-released
	if code != 0 {
		t.Fatalf("rotate after the lock is released: exit %d\n%s%s", code, stdout, stderr)
	}
}

// Issue 17.5 (rotate): with a damaged manifest, rotate succeeds, says
// which snapshot keeps packs from being deleted and why, and names the
// command that forgets it; that command then lets the garbage go.
func TestRotateWarnsOfADamagedManifest(t *testing.T) {
	rotateEnv(t)
	t.Setenv("BACKUP_KEEP_DB", "1")
	r := repotest.New(t, false)
	rng := rand.New(rand.NewPCG(17, 5))
	src := filepath.Join(t.TempDir(), "src")
	var names []string
	for range 3 {
		writeRandom(t, filepath.Join(src, "day.bin"), 256<<10, rng)
		names = append(names, r.Backup(t, "db", src, nil).Manifest.Name)
		time.Sleep(1100 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(r.Dir, manifest.Dir, names[1]), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := inProcess(t, "rotate", "--repo", r.Dir)
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"deleted snapshot " + names[0],
		"pocketsnap: warning: snapshot " + names[1] + " is kept and no pack was deleted: its manifest does not load",
		"pocketsnap: hint: if the snapshot cannot be repaired, forget it explicitly: pocketsnap rotate --forget " + names[1],
	} {
		if !strings.Contains(stdout+stderr, want) {
			t.Errorf("rotate does not say %q:\n%s%s", want, stdout, stderr)
		}
	}
	if !strings.Contains(stdout, "0 packs") {
		t.Errorf("rotate deleted packs while %s is damaged:\n%s", names[1], stdout)
	}
	code, stdout, stderr = inProcess(t, "rotate", "--repo", r.Dir, "--forget", names[1], "--json")
	var rep prune.Report
	if code != 0 || json.Unmarshal(lastLine([]byte(stdout)), &rep) != nil {
		t.Fatalf("rotate --forget: exit %d\n%s%s", code, stdout, stderr)
	}
	if len(rep.Snapshots) != 1 || rep.Snapshots[0].Name != names[1] || len(rep.Packs) == 0 || len(rep.Unreadable) != 0 {
		t.Fatalf("rotate --forget %s: %+v", names[1], rep)
	}
}

// A kind names configuration keys (<KIND>_STOP_CMD, BACKUP_KEEP_<KIND>):
// one that is no kind is refused as a usage error before any key is
// looked up, and one that begins with a digit, a valid kind whose keys
// no shell can set, backs up and rotates with those keys unset. Both
// panicked before ("config: no key 1_STOP_CMD").
func TestBackupKindNamesKeys(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "f"), []byte("x\n"), 0o644)
	for _, kind := range []string{"a b", "my-app", "Notes", ""} {
		code, out := c.run("backup", kind, "--source", src)
		if code != exitUsage || !strings.Contains(out, fmt.Sprintf("invalid kind %q", kind)) || strings.Contains(out, "panic") {
			t.Errorf("backup %q: exit %d\n%s", kind, code, out)
		}
	}
	for _, kind := range []string{"1", "9lives"} {
		c.mustRun("backup", kind, "--source", src)
		time.Sleep(1100 * time.Millisecond) // names have whole seconds
		c.mustRun("backup", kind, "--source", src)
		c.mustRun("rotate", "--keep", kind+"=1")
		if got := c.snapshots(); len(got) != 1 || !strings.HasPrefix(got[0], kind+"-") {
			t.Errorf("after backups of %s kept to 1: snapshots %v", kind, got)
		}
		c.mustRun("rotate", "--forget", c.snapshots()[0])
	}
}
