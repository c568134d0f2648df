package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// Tests of issue 4: classic archives (export, backup --compat, parts,
// verify-archive).

// compatSource generates a tree with every entry type and some larger
// random files, so that archives span several parts.
func compatSource(t *testing.T, c *cli, seed int64, bulk int) string {
	t.Helper()
	src := filepath.Join(c.dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testtree.Generate(src, seed); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(seed), 4))
	for i := range 4 {
		writeRandom(t, filepath.Join(src, "bulk", strings.Repeat("b", i+1)), bulk/4, r)
	}
	return src
}

func (c *cli) key() string { return filepath.Join(c.dir, "key.txt") }

// streamDigest returns the SHA-256 of snap's tar stream, read back and
// verified blob by blob (a version 2 manifest records no stream digest).
func (c *cli) streamDigest(snap string) string {
	c.t.Helper()
	s, err := chunkstore.Open(filepath.Join(c.dir, "data", "backups", "repo"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer s.Close()
	s.SetIdentities(c.identities())
	m, err := manifest.Load(s, snap)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := m.Open(s.Codec()); err != nil {
		c.t.Fatal(err)
	}
	sr := pipeline.NewStreamReader(context.Background(), s, m)
	defer sr.Close()
	h := sha256.New()
	if _, err := io.Copy(h, sr); err != nil {
		c.t.Fatalf("reading the stream of %s: %v", snap, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *cli) identities() []age.Identity {
	c.t.Helper()
	f, err := os.Open(c.key())
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		c.t.Fatal(err)
	}
	return ids
}

// archiveZst returns the .tar.zst held by an archive's files (decrypted
// when they are an age file).
func (c *cli) archiveZst(files ...string) []byte {
	c.t.Helper()
	var stored []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			c.t.Fatal(err)
		}
		stored = append(stored, b...)
	}
	if !strings.HasSuffix(files[0], ".age") && !strings.Contains(files[0], ".age.part-") {
		return stored
	}
	r, err := age.Decrypt(bytes.NewReader(stored), c.identities()...)
	if err != nil {
		c.t.Fatalf("%s: %v", files[0], err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		c.t.Fatalf("%s: %v", files[0], err)
	}
	return plain
}

// streamSHA256 returns the SHA-256 of the tar stream in a .tar.zst.
func streamSHA256(t *testing.T, zst []byte) string {
	t.Helper()
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	stream, err := dec.DecodeAll(zst, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(stream)
	return hex.EncodeToString(sum[:])
}

func sh(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command("bash", "-c", "set -euo pipefail; "+script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("in %s: %s: %v\n%s", dir, script, err, out)
	}
}

// acceptedByRealTools checks an archive the way a user of the old scripts
// would: sha256sum -c from its directory, age -d, zstd -t, and GNU tar
// restoring the source tree exactly.
func (c *cli) acceptedByRealTools(archive, src string) {
	c.t.Helper()
	dir, name := filepath.Split(archive)
	sh(c.t, dir, "sha256sum -c --strict "+name+".sha256")
	work := c.t.TempDir()
	zst := archive
	if plain, ok := strings.CutSuffix(name, ".age"); ok {
		// Issue 18.9: the seed's check of a decrypted archive,
		// sha256sum -c <kind>-<UTC>.tar.zst.sha256, works after age -d.
		zst = filepath.Join(work, plain)
		sh(c.t, work, "age -d -i "+c.key()+" -o "+zst+" "+archive+" && cp "+filepath.Join(dir, plain)+".sha256 . && sha256sum -c --strict "+plain+".sha256")
	}
	out := filepath.Join(work, "out")
	sh(c.t, work, "zstd -q -t "+zst+" && mkdir out && tar --zstd -xpf "+zst+" -C out")
	if err := testtree.Compare(src, out, testtree.Options{IgnoreOwner: os.Geteuid() != 0}); err != nil {
		c.t.Fatalf("%s: the tree GNU tar restores differs: %v", archive, err)
	}
}

// Acceptance (issue 4, 1 and 2): the archive backup --compat writes and
// the export of the same snapshot pass sha256sum, age, zstd and GNU tar,
// restore the source exactly, decompress to the manifest's stream digest,
// and are the same .tar.zst before encryption.
func TestClassicArchivesPassRealTools(t *testing.T) {
	testenv.NeedTools(t, "age", "zstd", "tar", "sha256sum", "bash")
	c := newCLI(t)
	src := compatSource(t, c, 41, 2<<20)
	out := c.mustRun("backup", "files", "--source", src, "--compat")
	snap := c.snapshots()[0]
	compatPath := filepath.Join(c.dir, "data", "backups", "files", snap+".tar.zst.age")
	if !strings.Contains(out, "classic archive "+compatPath) {
		t.Fatalf("backup does not name the archive:\n%s", out)
	}
	exported := filepath.Join(c.dir, "export", snap+".tar.zst.age")
	c.mustRun("export", snap, "-o", filepath.Join(c.dir, "export")+"/")
	// Beside the encrypted export: issue 18.9, they share the sidecar of
	// the .tar.zst.
	plainExport := filepath.Join(c.dir, "export", snap+".tar.zst")
	c.mustRun("export", snap, "--plain", "-o", plainExport)

	digest := c.streamDigest(snap)
	var zsts [][]byte
	for _, a := range []string{compatPath, exported, plainExport} {
		c.acceptedByRealTools(a, src)
		zst := c.archiveZst(a)
		if got := streamSHA256(t, zst); got != digest {
			t.Fatalf("%s decompresses to a stream with SHA-256 %s, the manifest says %s", a, got, digest)
		}
		zsts = append(zsts, zst)
	}
	if !bytes.Equal(zsts[0], zsts[1]) || !bytes.Equal(zsts[0], zsts[2]) {
		t.Fatal("the exported .tar.zst differs from the one backup --compat wrote")
	}
}

// Acceptance (issue 4, 3): with a tiny --part-size, archives are written
// in parts below the limit whose sidecar sha256sum checks, which cat
// reassembles into an archive the real tools accept.
func TestClassicArchiveParts(t *testing.T) {
	testenv.NeedTools(t, "age", "zstd", "tar", "sha256sum", "bash")
	c := newCLI(t)
	src := compatSource(t, c, 42, 1<<20)
	const limit = 256 << 10
	c.mustRun("backup", "files", "--source", src, "--compat", "--part-size", "256K")
	snap := c.snapshots()[0]
	exportDir := filepath.Join(c.dir, "export")
	c.mustRun("export", snap, "--part-size", "300000", "-o", exportDir+"/")
	for _, a := range []struct {
		path  string
		limit int64
	}{
		{filepath.Join(c.dir, "data", "backups", "files", snap+".tar.zst.age"), limit},
		{filepath.Join(exportDir, snap+".tar.zst.age"), 300000},
	} {
		parts, _ := filepath.Glob(a.path + ".part-*")
		if len(parts) < 3 {
			t.Fatalf("%s: %d parts, want several", a.path, len(parts))
		}
		if _, err := os.Stat(a.path); !os.IsNotExist(err) {
			t.Fatalf("%s exists whole besides its parts", a.path)
		}
		for _, p := range parts {
			if fi, err := os.Stat(p); err != nil || fi.Size() > a.limit {
				t.Fatalf("part %s: %v, size over the limit %d", p, err, a.limit)
			}
		}
		dir, name := filepath.Split(a.path)
		sh(t, dir, "sha256sum -c --strict --ignore-missing "+name+".sha256")
		c.mustRun("verify-archive", parts[1])
		sh(t, dir, "cat "+name+".part-* > "+name)
		c.acceptedByRealTools(a.path, src)
		if got, want := streamSHA256(t, c.archiveZst(a.path)), c.streamDigest(snap); got != want {
			t.Fatalf("%s: stream SHA-256 %s, manifest %s", a.path, got, want)
		}
	}
}

// finalFiles lists the files under an archive's final names.
func finalFiles(archive string) []string {
	var out []string
	for _, p := range []string{archive, compat.SidecarPath(archive), compat.SidecarPath(strings.TrimSuffix(archive, compat.AgeExt))} {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, p)
		}
	}
	parts, _ := filepath.Glob(archive + ".part-*")
	return append(out, parts...)
}

func tempFiles(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, compat.TempPrefix+"*"))
	return m
}

// noPartialArchive fails unless nothing is under the archive's final
// names, or the archive is complete: committed (verify-archive passes), or
// killed between the final renames (the data is complete, the sidecar not
// there yet). It removes a complete one.
func (c *cli) noPartialArchive(archive, digest, when string) {
	c.t.Helper()
	files := finalFiles(archive)
	if len(files) == 0 {
		return
	}
	if _, err := os.Stat(compat.SidecarPath(archive)); err == nil {
		if code, out := c.run("verify-archive", archive); code != 0 {
			c.t.Fatalf("%s: the archive under its final name is not complete:\n%s", when, out)
		}
	} else if data := finalFiles(archive); streamSHA256(c.t, c.archiveZst(data...)) != digest {
		c.t.Fatalf("%s: partial archive left under its final name: %v", when, files)
	}
	for _, f := range files {
		os.Remove(f)
	}
}

// Acceptance (issue 4, 4): an export killed with SIGKILL at random moments,
// or failing midway (wrong identity, corrupted pack), and a backup
// --compat interrupted, leave no file under the archive's final name; the
// next writer removes the killed ones' temporary files.
func TestClassicArchiveNeverPartial(t *testing.T) {
	c := newCLI(t)
	c.bin = buildBinary(t) // kill what users run, not a -race build
	src := compatSource(t, c, 43, 24<<20)
	c.mustRun("backup", "files", "--source", src, "--compat")
	snap := c.snapshots()[0]
	digest := c.streamDigest(snap)
	outDir := filepath.Join(c.dir, "out")
	archive := filepath.Join(outDir, snap+".tar.zst.age")

	start := time.Now()
	c.mustRun("export", snap, "-o", outDir+"/")
	full := time.Since(start)
	c.noPartialArchive(archive, digest, "complete export")

	r := rand.New(rand.NewPCG(4, 4))
	killed := 0
	for i := 0; killed < 8; i++ {
		if i == 40 {
			t.Fatalf("only %d of 40 exports were killed before they finished", killed)
		}
		cmd := c.command("export", snap, "-o", outDir+"/")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(r.Int64N(int64(full))))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		}
		c.noPartialArchive(archive, digest, "export killed")
	}
	t.Logf("%d exports killed, leaving %d temporary files", killed, len(tempFiles(outDir)))
	c.mustRun("export", snap, "-o", outDir+"/")
	if tmp := tempFiles(outDir); len(tmp) > 0 {
		t.Fatalf("the next export left the killed ones' temporary files: %v", tmp)
	}
	c.noPartialArchive(archive, digest, "export after the kills")

	// An interrupted backup --compat leaves no archive either.
	kindDir := filepath.Join(c.dir, "data", "backups", "files")
	writeRandom(t, filepath.Join(src, "bulk", "new"), 8<<20, r)
	cmd := c.command("backup", "files", "--source", src, "--compat")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(full / 4)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	t.Logf("backup --compat after SIGINT: %d snapshots", len(c.snapshots()))
	if snaps := c.snapshots(); len(snaps) == 2 { // it finished first
		c.noPartialArchive(filepath.Join(kindDir, snaps[1]+".tar.zst.age"), c.streamDigest(snaps[1]), "backup --compat")
	}
	// The first snapshot's archive, its sidecar and (issue 18.9) the
	// sidecar of the decrypted archive.
	if ents, _ := os.ReadDir(kindDir); len(ents) != 3 {
		t.Fatalf("interrupted backup --compat left %d files in %s, want the first snapshot's 3", len(ents), kindDir)
	}

	// Failing midway: the wrong identity, then a corrupted pack.
	other, _ := age.GenerateX25519Identity()
	otherKey := filepath.Join(c.dir, "other-key.txt")
	os.WriteFile(otherKey, []byte(other.String()+"\n"), 0o600)
	saved := c.env
	c.env = append(slices.Clone(saved), "BACKUP_AGE_IDENTITY="+otherKey)
	if code, out := c.run("export", snap, "-o", outDir+"/"); code != exitIdentity {
		t.Fatalf("export with the wrong identity: exit %d, want %d\n%s", code, exitIdentity, out)
	}
	c.env = saved
	c.noPartialArchive(archive, "", "export with the wrong identity")
	corruptLargestPack(t, filepath.Join(c.dir, "data", "backups", "repo", "data"))
	code, out := c.run("export", snap, "-o", outDir+"/")
	if code != exitVerify || !strings.Contains(out, "nothing was written to "+archive) {
		t.Fatalf("export from a corrupted pack: exit %d, want %d\n%s", code, exitVerify, out)
	}
	c.noPartialArchive(archive, "", "export from a corrupted pack")
	if tmp := tempFiles(outDir); len(tmp) > 0 {
		t.Fatalf("failed export left %v", tmp)
	}
}

// corruptLargestPack flips a byte in the middle of the largest pack (a
// pack of file bodies, read after the first headers).
func corruptLargestPack(t *testing.T, dir string) {
	t.Helper()
	var largest string
	var size int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if fi, ierr := os.Stat(p); err == nil && ierr == nil && fi.Mode().IsRegular() && fi.Size() > size {
			largest, size = p, fi.Size()
		}
		return nil
	})
	b, err := os.ReadFile(largest)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(largest, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// verify-archive accepts archives of the old scripts: tar --zstd -cf and
// sha256sum, encrypted with age -r, with the plaintext's sidecar kept.
func TestVerifyArchiveOfOldScripts(t *testing.T) {
	testenv.NeedTools(t, "age", "age-keygen", "zstd", "tar", "sha256sum", "bash")
	c := newCLI(t)
	src := compatSource(t, c, 44, 256<<10)
	dir := filepath.Join(c.dir, "backups", "db")
	os.MkdirAll(dir, 0o755)
	name := "db-20250101T040000Z.tar.zst"
	sh(t, dir, "tar --zstd -cf "+name+" -C "+src+" . && sha256sum "+name+" > "+name+".sha256")
	out := c.mustRun("verify-archive", filepath.Join(dir, name))
	if !strings.Contains(out, "tar stream well-formed") {
		t.Fatalf("verify-archive:\n%s", out)
	}
	sh(t, dir, "age -r $(age-keygen -y "+c.key()+") -o "+name+".age "+name+" && rm "+name+
		" && sha256sum "+name+".age > "+name+".age.sha256")
	out = c.mustRun("verify-archive", filepath.Join(dir, name+".age"))
	enc := filepath.Join(dir, name+".age")
	if !strings.Contains(out, "matches "+enc+".sha256 and "+filepath.Join(dir, name+".sha256")+"; decrypted") {
		t.Fatalf("verify-archive of an encrypted archive with both sidecars:\n%s", out)
	}

	// Exit codes: 5 for the wrong identity, 6 for a failed verification.
	other, _ := age.GenerateX25519Identity()
	otherKey := filepath.Join(c.dir, "other-key.txt")
	os.WriteFile(otherKey, []byte(other.String()+"\n"), 0o600)
	saved := c.env
	c.env = append(slices.Clone(saved), "BACKUP_AGE_IDENTITY="+otherKey)
	if code, out := c.run("verify-archive", enc); code != exitIdentity || !strings.Contains(out, "is not encrypted to BACKUP_AGE_IDENTITY") {
		t.Fatalf("wrong identity: exit %d, want %d:\n%s", code, exitIdentity, out)
	}
	c.env = saved
	b, _ := os.ReadFile(enc)
	b[len(b)/2] ^= 0x01
	os.WriteFile(enc, b, 0o600)
	if code, out := c.run("verify-archive", enc); code != exitVerify || !strings.Contains(out, "error: "+enc+": checksum mismatch") {
		t.Fatalf("flipped byte: exit %d, want %d:\n%s", code, exitVerify, out)
	}
	os.Remove(enc + ".sha256")
	os.Remove(filepath.Join(dir, name+".sha256"))
	if code, out := c.run("verify-archive", enc); code != exitVerify || !strings.Contains(out, "no sidecar") {
		t.Fatalf("missing sidecar: exit %d, want %d:\n%s", code, exitVerify, out)
	}
}

// Issue 18.9: an encrypted archive written by backup --compat has both
// sidecars, of what is stored and of what age -d gives back, and rotate
// removes both with the archive.
func TestRotateRemovesBothSidecars(t *testing.T) {
	testenv.NeedTools(t, "age", "sha256sum")
	c := newCLI(t)
	src := compatSource(t, c, 43, 64<<10)
	var snaps []string
	for i := range 2 {
		if i > 0 {
			time.Sleep(time.Second) // a snapshot of its own second
		}
		c.mustRun("backup", "files", "--source", src, "--compat")
		snaps = c.snapshots()
	}
	if len(snaps) != 2 {
		t.Fatalf("snapshots %v, want 2", snaps)
	}
	kindDir := filepath.Join(c.dir, "data", "backups", "files")
	files := func(snap string) []string {
		return []string{snap + ".tar.zst.age", snap + ".tar.zst.age.sha256", snap + ".tar.zst.sha256"}
	}
	for _, s := range snaps {
		for _, f := range files(s) {
			if !exists(filepath.Join(kindDir, f)) {
				t.Fatalf("backup --compat did not write %s", f)
			}
		}
	}
	c.acceptedByRealTools(filepath.Join(kindDir, snaps[0]+".tar.zst.age"), src)
	c.env = append(c.env, "BACKUP_KEEP_FILES=1")
	c.mustRun("rotate")
	var got []string
	ents, _ := os.ReadDir(kindDir)
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if want := files(snaps[1]); !slices.Equal(got, want) {
		t.Fatalf("after rotate %s holds %v, want only the newest archive's %v", kindDir, got, want)
	}
}
