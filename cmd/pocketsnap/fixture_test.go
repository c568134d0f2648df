package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/golden"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// fixtureV1 is the committed version 1 repository (see its README.md).
const fixtureV1 = "../../testdata/repo-v1"

// fixtureSnapshots are the fixture's snapshots, each with the time it was
// taken and how its source tree is made.
var fixtureSnapshots = []struct {
	name string
	at   time.Time
	make func(t *testing.T, dir string)
}{
	{"rootfs-20261129T040000Z", time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC), fixtureRootfs1},
	{"db-20261129T041500Z", time.Date(2026, 11, 29, 4, 15, 0, 0, time.UTC), fixtureDB},
	{"rootfs-20261130T040000Z", time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC), fixtureRootfs2},
}

// fixtureChunking cuts bodies above 16 KiB into chunks of 4 to 32 KiB, so
// that a small fixture still holds chunked files.
var fixtureChunking = chunkstore.Chunking{SmallBody: 16 << 10, MinSize: 4 << 10, MaxSize: 32 << 10, AverageBits: 13}

// Issue 19 (nothing pins the format), issues 17.3 and 20 (v1 repositories
// keep working): every version of pocketsnap must list the committed v1
// repository, pass check --read-data on it, and restore each of its
// snapshots byte-identically (content, modes, link targets, hard links,
// mtimes) to the committed listing of its source tree. The repository is
// the committed bytes; -update re-makes them with this version.
func TestRepoV1Fixture(t *testing.T) {
	if *golden.Update {
		makeFixtureV1(t)
	}
	c := fixtureCLI(t, fixtureV1)
	out := c.mustRun("snapshots", "--repo", c.repo)
	for _, s := range fixtureSnapshots {
		if !strings.Contains(out, s.name) {
			t.Errorf("snapshots does not list %s:\n%s", s.name, out)
		}
	}
	if out := c.mustRun("check", "--read-data", "--repo", c.repo); !strings.Contains(out, "no problems") {
		t.Errorf("check --read-data printed no result:\n%s", out)
	}
	for _, s := range fixtureSnapshots {
		c.restoreMatches(s.name)
	}
	fixtureCovers(t, c)
}

// fixtureCovers checks that the fixture holds what it claims: a version 1
// repository whose first snapshot has a file cut into several chunks.
func fixtureCovers(t *testing.T, c *fixtureRepo) {
	s, err := chunkstore.Open(c.repo)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := s.Config().Version; v != 1 {
		t.Fatalf("the fixture is version %d, not 1", v)
	}
	b, err := os.ReadFile(filepath.Join(c.src, "identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	s.SetIdentities([]age.Identity{fixtureIdentity(t, b)})
	m, err := manifest.Load(s, fixtureSnapshots[0].name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(s.Codec()); err != nil {
		t.Fatal(err)
	}
	files := repotest.Files(t, m)
	i := slices.IndexFunc(files, func(f manifest.File) bool { return f.Path == "var/big.bin" })
	if i < 0 || files[i].Pieces < 4 {
		t.Errorf("var/big.bin is not several chunks in %s; the fixture should chunk it", fixtureSnapshots[0].name)
	}
}

// fixtureRepo is the CLI pointed at a copy of a committed repository and
// its identity.
type fixtureRepo struct {
	*cli
	repo string
	src  string // the fixture's directory
}

// fixtureCLI copies the committed repository src into a temporary
// directory (commands create lock files and device state) and returns the
// CLI set up with its recipient and identity.
func fixtureCLI(t *testing.T, src string) *fixtureRepo {
	t.Helper()
	bin, err := exec.LookPath("pocketsnap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	copyTree(t, filepath.Join(src, "repo"), repo)
	// Git keeps no modes but the executable bit: give the device's
	// secrets the mode pocketsnap writes them with.
	if err := os.Chmod(filepath.Join(repo, "local/keys"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "identity.txt")
	b, err := os.ReadFile(filepath.Join(src, "identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, b, 0o600); err != nil {
		t.Fatal(err)
	}
	id := fixtureIdentity(t, b)
	return &fixtureRepo{repo: repo, src: src, cli: &cli{t: t, bin: bin, dir: dir, env: append(os.Environ(),
		"DATA_DIR="+filepath.Join(dir, "data"),
		"BACKUP_AGE_RECIPIENT="+id.Recipient().String(),
		"BACKUP_AGE_IDENTITY="+key,
		"POCKETSNAP_ENV_FILE=/dev/null",
	)}}
}

// restoreMatches restores a snapshot and compares the tree with the
// committed listing of its source.
func (c *fixtureRepo) restoreMatches(name string) {
	c.t.Helper()
	target := filepath.Join(c.dir, "restore-"+name)
	c.mustRun("restore", name, "--target", target, "--repo", c.repo)
	c.matchesListing(name, target, "restored")
}

// matchesListing compares the tree in dir with the committed listing of
// the snapshot's source.
func (c *fixtureRepo) matchesListing(name, dir, how string) {
	c.t.Helper()
	got, err := testtree.Listing(dir)
	if err != nil {
		c.t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(c.src, "expected", name+".txt"))
	if err != nil {
		c.t.Fatal(err)
	}
	if got != string(want) {
		c.t.Errorf("%s %s differs from expected/%s.txt:\n--- want\n%s--- got\n%s", name, how, name, want, got)
	}
}

// fixtureIdentity parses the committed identity file.
func fixtureIdentity(t *testing.T, b []byte) *age.X25519Identity {
	t.Helper()
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return ids[0].(*age.X25519Identity)
}

// makeFixtureV1 re-makes testdata/repo-v1: the source trees, backed up
// through the pipeline at fixed times into a new version 1 repository
// encrypted to the committed identity (a new one if there is none), and
// the listings of the trees.
func makeFixtureV1(t *testing.T) {
	keyFile := filepath.Join(fixtureV1, "identity.txt")
	b, err := os.ReadFile(keyFile)
	if os.IsNotExist(err) {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		b = []byte("# TEST ONLY: the identity of testdata/repo-v1. Never use it for real data.\n" +
			"# public key: " + id.Recipient().String() + "\n" + id.String() + "\n")
		if err := os.WriteFile(keyFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	id := fixtureIdentity(t, b)
	repo := filepath.Join(fixtureV1, "repo")
	if err := os.RemoveAll(repo); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(fixtureV1, "expected"))
	if err := os.MkdirAll(filepath.Join(fixtureV1, "expected"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := chunkstore.InitVersion(repo, []string{id.Recipient().String()}, fixtureChunking, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	src := filepath.Join(t.TempDir(), "src")
	for _, snap := range fixtureSnapshots {
		kind := snap.name[:strings.IndexByte(snap.name, '-')]
		dir := src + "-" + kind
		snap.make(t, dir)
		s, err := chunkstore.Open(repo)
		if err != nil {
			t.Fatal(err)
		}
		at := snap.at
		res, err := pipeline.Backup(context.Background(), s, pipeline.Options{
			Kind: kind, Source: "/fixture/" + kind, Dir: dir, Host: "fixture", Tool: "pocketsnap fixture",
			Workers: 1, Now: func() time.Time { return at },
		})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Manifest.Name != snap.name {
			t.Fatalf("backup made %s, want %s", res.Manifest.Name, snap.name)
		}
		l, err := testtree.Listing(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fixtureV1, "expected", snap.name+".txt"), []byte(l), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Device state that is not part of the format: the files caches and
	// the lock file.
	for _, p := range []string{"local/filescache", "local/lock"} {
		if err := os.RemoveAll(filepath.Join(repo, p)); err != nil {
			t.Fatal(err)
		}
	}
}

// fixtureRootfs1 makes the first rootfs tree: a small file, an empty
// file, a chunked file, a relative and an absolute symlink, a hard link
// pair, an empty directory, a fifo, setuid and unusual modes, and mtimes
// with nanoseconds on everything.
func fixtureRootfs1(t *testing.T, dir string) {
	f := newFixtureTree(t, dir, 1)
	f.dir("", 0o755)
	f.dir("etc", 0o755)
	f.file("etc/hostname", 0o644, []byte("phone\n"))
	f.file("etc/shadow", 0o600, []byte("root:*:20000:0:99999:7:::\n"))
	f.dir("etc/empty.d", 0o700)
	f.dir("usr", 0o755)
	f.dir("usr/bin", 0o755)
	f.file("usr/bin/tool", 0o4755, []byte("#!/bin/sh\necho tool\n"))
	f.symlink("usr/bin/tool-link", "tool")
	f.symlink("usr/hostname-abs", "/etc/hostname")
	f.dir("var", 0o755)
	f.dir("var/tmp", 0o1777)
	f.file("var/big.bin", 0o640, f.random(96<<10))
	f.file("var/empty", 0o644, nil)
	f.file("var/shared-a", 0o644, []byte("one inode, two names\n"))
	f.link("var/shared-a", "var/shared-b")
	f.fifo("var/pipe", 0o600)
	f.finish()
}

// fixtureRootfs2 changes the first tree, which dir holds, as a day would:
// a region of the chunked file rewritten, a file added, one removed, one
// touched.
func fixtureRootfs2(t *testing.T, dir string) {
	f := newFixtureTree(t, dir, 2)
	big := filepath.Join(dir, "var/big.bin")
	b, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[50<<10:], bytes.Repeat([]byte("changed "), 32))
	f.file("var/big.bin", 0o640, b)
	f.file("etc/motd", 0o644, []byte("welcome back\n"))
	if err := os.Remove(filepath.Join(dir, "usr/bin/tool-link")); err != nil {
		t.Fatal(err)
	}
	f.touch("etc/hostname")
	f.touch("usr/bin")
	f.touch("etc")
	f.touch("var")
	f.touch("")
	f.finish()
}

// fixtureDB makes a small RocksDB-like directory.
func fixtureDB(t *testing.T, dir string) {
	f := newFixtureTree(t, dir, 3)
	f.dir("", 0o700)
	f.file("CURRENT", 0o644, []byte("MANIFEST-000005\n"))
	f.file("MANIFEST-000005", 0o644, f.random(3000))
	f.file("000004.sst", 0o644, f.random(40<<10))
	f.file("LOCK", 0o644, nil)
	f.finish()
}

// fixtureTree writes a tree with deterministic content and mtimes.
type fixtureTree struct {
	t     *testing.T
	root  string
	rng   *rand.Rand
	when  int64 // the next mtime, in nanoseconds
	paths []string
}

func newFixtureTree(t *testing.T, root string, seed uint64) *fixtureTree {
	return &fixtureTree{t: t, root: root, rng: rand.New(rand.NewPCG(seed, 19)),
		when: time.Date(2026, 11, 20+int(seed), 10, 0, 0, 0, time.UTC).UnixNano() + 123456789}
}

func (f *fixtureTree) random(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(f.rng.Uint32())
	}
	return b
}

func (f *fixtureTree) path(rel string) string {
	f.paths = append(f.paths, rel)
	return filepath.Join(f.root, rel)
}

func (f *fixtureTree) dir(rel string, mode os.FileMode) {
	p := f.path(rel)
	if err := os.MkdirAll(p, 0o700); err != nil {
		f.t.Fatal(err)
	}
	f.chmod(p, mode)
}

func (f *fixtureTree) file(rel string, mode os.FileMode, b []byte) {
	p := f.path(rel)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		f.t.Fatal(err)
	}
	f.chmod(p, mode)
}

func (f *fixtureTree) chmod(p string, mode os.FileMode) {
	// unix.Chmod takes the setuid and sticky bits as they are on disk.
	if err := unix.Chmod(p, uint32(mode)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixtureTree) symlink(rel, target string) {
	if err := os.Symlink(target, f.path(rel)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixtureTree) link(old, rel string) {
	if err := os.Link(filepath.Join(f.root, old), f.path(rel)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixtureTree) fifo(rel string, mode uint32) {
	p := f.path(rel)
	if err := unix.Mkfifo(p, mode); err != nil {
		f.t.Fatal(err)
	}
	f.chmod(p, os.FileMode(mode))
}

func (f *fixtureTree) touch(rel string) { f.path(rel) }

// finish sets the mtimes of every path named, deepest first so that a
// directory's is not changed by what is written in it afterwards.
func (f *fixtureTree) finish() {
	for i := len(f.paths) - 1; i >= 0; i-- {
		f.when += 1_000_000_007
		ts := unix.NsecToTimespec(f.when)
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(f.root, f.paths[i]), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			f.t.Fatal(err)
		}
	}
	f.paths = nil
}

// Issue 20 (the recovery script is kept working for version 1): each
// snapshot of the committed v1 repository is recovered with the shipped
// script, the real age, zstd and GNU tar, to the committed listing.
func TestRecoverV1FixtureByHand(t *testing.T) {
	testenv.NeedTools(t, "age", "zstd", "tar", "python3")
	c := fixtureCLI(t, fixtureV1)
	c.recoverByHand(fixtureSnapshots[0].name, fixtureSnapshots[1].name, fixtureSnapshots[2].name)
}

// recoverByHand recovers snapshots with scripts/pocketsnap-recover, age,
// zstd and tar, and compares each tree with the committed listing.
func (c *fixtureRepo) recoverByHand(names ...string) {
	c.t.Helper()
	script, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "pocketsnap-recover"))
	for _, name := range names {
		out := filepath.Join(c.dir, "recovered-"+name)
		if err := os.Mkdir(out, 0o755); err != nil {
			c.t.Fatal(err)
		}
		cmd := exec.Command("bash", "-c", `set -o pipefail; python3 "$1" "$2" "$3" -i "$4" | zstd -d | tar -xpf - -C "$5"`,
			"bash", script, c.repo, name, filepath.Join(c.dir, "identity.txt"), out)
		if b, err := cmd.CombinedOutput(); err != nil {
			c.t.Fatalf("recovering %s by hand: %v\n%s", name, err, b)
		}
		c.matchesListing(name, out, "recovered by hand")
	}
}

// Issue 20.2: with no stream digest in version 2, the recovery script
// authenticates the stream by each blob's keyed ID. Anyone with the
// public key can write a pack whose trailer claims a blob the snapshot
// needs; here every pack gets such a twin, which the script reads first
// (data/00 sorts before the others). It must name the pack and print
// nothing. The fixture is version 1, whose packs anyone can forge
// outright; the check is the same for version 2's.
func TestRecoverRefusesAForgedPack(t *testing.T) {
	testenv.NeedTools(t, "age", "zstd", "python3")
	c := fixtureCLI(t, fixtureV1)
	b, err := os.ReadFile(filepath.Join(c.dir, "identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	identity := ids[0]
	recipient := identity.(*age.X25519Identity).Recipient()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	packs, _ := filepath.Glob(filepath.Join(c.repo, "data", "*", "*"))
	if len(packs) == 0 {
		t.Fatal("the fixture has no packs")
	}
	for _, p := range packs {
		stored, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := age.Decrypt(bytes.NewReader(stored), identity)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		// The claimed IDs, from the real trailer (doc/format.md, Packs).
		tr := plain[len(plain)-int(binary.LittleEndian.Uint32(plain[len(plain)-4:])):]
		var frames, entries []byte
		for i := range binary.LittleEndian.Uint32(tr[13:]) {
			evil := fmt.Appendf(nil, "forged blob %d\n", i)
			frame := enc.EncodeAll(evil, nil)
			entries = append(entries, tr[17+i*44:17+i*44+32]...)
			entries = binary.LittleEndian.AppendUint32(entries, uint32(len(frames)))
			entries = binary.LittleEndian.AppendUint32(entries, uint32(len(frame)))
			entries = binary.LittleEndian.AppendUint32(entries, uint32(len(evil)))
			frames = append(frames, frame...)
		}
		body := append([]byte("PSPK\x01"), binary.LittleEndian.AppendUint32(nil, uint32(len(entries)/44))...)
		body = append(body, entries...)
		trailer := binary.LittleEndian.AppendUint32(nil, 0x184D2A5B)
		trailer = binary.LittleEndian.AppendUint32(trailer, uint32(len(body)+4))
		trailer = append(trailer, body...)
		trailer = binary.LittleEndian.AppendUint32(trailer, uint32(len(trailer)+4))
		var forged bytes.Buffer
		w, err := age.Encrypt(&forged, recipient)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(append(frames, trailer...))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(forged.Bytes())
		os.MkdirAll(filepath.Join(c.repo, "data", "00"), 0o755)
		if err := os.WriteFile(filepath.Join(c.repo, "data", "00", hex.EncodeToString(sum[:])), forged.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "pocketsnap-recover"))
	for _, s := range fixtureSnapshots {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command("python3", script, c.repo, s.name, "-i", filepath.Join(c.dir, "identity.txt"))
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err == nil || stdout.Len() > 0 || !regexp.MustCompile(`pack [0-9a-f]{64}: blob [0-9a-f]{64} does not match its keyed ID`).MatchString(stderr.String()) {
			t.Errorf("recovering %s with forged packs: %v, %d bytes printed\n%s", s.name, err, stdout.Len(), stderr.String())
		}
	}
}
