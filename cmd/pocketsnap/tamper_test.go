package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
)

// victim is a repository with one snapshot of a generated tree, as the
// device leaves it, and the fingerprint init printed.
type victim struct {
	c           *cli
	src, repo   string
	snapshot    string
	fingerprint string
}

var fingerprintRE = regexp.MustCompile(`repository fingerprint: ([a-z2-7]{5}(-[a-z2-7]{5}){3})\n`)

func newVictim(t *testing.T) *victim {
	t.Helper()
	v := &victim{c: newCLI(t)}
	v.src = filepath.Join(v.c.dir, "src")
	os.MkdirAll(v.src, 0o755)
	if err := testtree.Generate(v.src, 41); err != nil {
		t.Fatal(err)
	}
	m := fingerprintRE.FindStringSubmatch(v.c.mustRun("init"))
	if m == nil {
		t.Fatal("init printed no fingerprint")
	}
	v.fingerprint = m[1]
	v.c.mustRun("backup", "files", "--source", v.src)
	v.repo = filepath.Join(v.c.dir, "data", "backups", "repo")
	v.snapshot = v.c.snapshots()[0]
	return v
}

// copyRepo copies the repository for one attack; without local, as a
// machine that adopts it from a copy of the bucket sees it.
func (v *victim) copyRepo(t *testing.T, local bool) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "repo")
	copyTree(t, v.repo, dst)
	if !local {
		os.RemoveAll(filepath.Join(dst, "local"))
	}
	return dst
}

// with returns the CLI with more environment variables set.
func (c *cli) with(env ...string) *cli {
	d := *c
	d.env = append(slices.Clone(c.env), env...)
	return &d
}

// refused runs a restore that must fail with exit code 6, naming want, and
// leave no target.
func refused(t *testing.T, c *cli, repo, snapshot string, want []string, extra ...string) {
	t.Helper()
	target := filepath.Join(t.TempDir(), "target")
	args := append([]string{"restore", snapshot, "--target", target, "--repo", repo}, extra...)
	code, out := c.run(args...)
	if code != exitVerify {
		t.Fatalf("restore exit %d, want %d:\n%s", code, exitVerify, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("restore output does not say %q:\n%s", w, out)
		}
	}
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("a refused restore left %s", target)
	}
}

// attacker holds only what the bucket holds: the recipient, from the
// repository's public config, and write access.
type attacker struct {
	t         *testing.T
	recipient age.Recipient
	zenc      *zstd.Encoder
}

func newAttacker(t *testing.T, repo string) *attacker {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "config"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := chunkstore.ParseConfig(b)
	if err != nil || len(cfg.Recipients) != 1 {
		t.Fatalf("config: %v", err)
	}
	r, err := age.ParseX25519Recipient(cfg.Recipients[0])
	if err != nil {
		t.Fatal(err)
	}
	zenc, _ := zstd.NewWriter(nil)
	return &attacker{t: t, recipient: r, zenc: zenc}
}

func (a *attacker) seal(plain []byte) []byte {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, a.recipient)
	if err != nil {
		a.t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		a.t.Fatal(err)
	}
	return buf.Bytes()
}

// publicPart reads a manifest's public JSON line, as anyone can.
func publicPart(t *testing.T, repo, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "snapshots", name))
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	var pub map[string]any
	if err := json.Unmarshal(line, &pub); err != nil {
		t.Fatal(err)
	}
	return pub
}

// blobIDs returns the blob IDs a manifest lists publicly: in version 2
// (issue 20) only their first 16 bytes are public, in its set object and
// delta, and the attacker pads them with zeros.
func blobIDs(t *testing.T, repo string, pub map[string]any) [][]byte {
	t.Helper()
	if pub["version"].(float64) == 2 {
		set, err := os.ReadFile(filepath.Join(repo, "sets", pub["base"].(string)))
		if err != nil {
			t.Fatal(err)
		}
		base, _ := strings.CutPrefix(string(set), "pocketsnap set v2\n")
		added, err1 := base64.StdEncoding.DecodeString(pub["added"].(string))
		removed, err2 := base64.StdEncoding.DecodeString(pub["removed"].(string))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		var ids [][]byte
		for _, raw := range []string{base, string(added)} {
			for i := 0; i < len(raw); i += 16 {
				if !strings.Contains(string(removed), raw[i:i+16]) {
					ids = append(ids, append([]byte(raw[i:i+16]), make([]byte, 16)...))
				}
			}
		}
		return ids
	}
	raw, err := base64.StdEncoding.DecodeString(pub["blobs"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var ids [][]byte
	for i := 0; i < len(raw); i += 32 {
		ids = append(ids, raw[i:i+32])
	}
	return ids
}

// forgePack writes a pack, built as doc/format.md describes, in which
// each of ids claims a blob of the attacker's content, and stores it
// under the name of its bytes, or under name when given.
func (a *attacker) forgePack(repo string, ids [][]byte, name string) string {
	var plain, entries []byte
	for _, id := range ids {
		content := []byte("attacker's content for " + hex.EncodeToString(id))
		frame := a.zenc.EncodeAll(content, nil)
		entries = append(entries, id...)
		entries = binary.LittleEndian.AppendUint32(entries, uint32(len(plain)))
		entries = binary.LittleEndian.AppendUint32(entries, uint32(len(frame)))
		entries = binary.LittleEndian.AppendUint32(entries, uint32(len(content)))
		plain = append(plain, frame...)
	}
	total := 21 + len(entries)
	trailer := binary.LittleEndian.AppendUint32(nil, 0x184D2A5B)
	trailer = binary.LittleEndian.AppendUint32(trailer, uint32(total-8))
	trailer = append(trailer, "PSPK\x01"...)
	trailer = binary.LittleEndian.AppendUint32(trailer, uint32(len(ids)))
	trailer = append(trailer, entries...)
	trailer = binary.LittleEndian.AppendUint32(trailer, uint32(total))
	stored := a.seal(append(plain, trailer...))
	if name == "" {
		sum := sha256.Sum256(stored)
		name = hex.EncodeToString(sum[:])
	}
	os.MkdirAll(filepath.Join(repo, "data", name[:2]), 0o700)
	if err := os.WriteFile(filepath.Join(repo, "data", name[:2], name), stored, 0o600); err != nil {
		a.t.Fatal(err)
	}
	return name
}

// packNames lists the repository's packs.
func packNames(t *testing.T, repo string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	if err != nil || len(m) < 2 {
		t.Fatalf("want at least two packs, found %d (%v)", len(m), err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func packPath(repo, name string) string { return filepath.Join(repo, "data", name[:2], name) }

// Acceptance (issue 10): an attacker holding only the recipient and write
// access to the repository forges, swaps, replaces and truncates; restore
// refuses each with exit code 6 and names the object at fault, on the
// device and on a machine that adopts a copy of the repository.
func TestAttackerIsRefused(t *testing.T) {
	v := newVictim(t)
	pub := publicPart(t, v.repo, v.snapshot)
	ids := blobIDs(t, v.repo, pub)

	t.Run("genuine repository restores", func(t *testing.T) {
		for _, local := range []bool{true, false} {
			target := filepath.Join(t.TempDir(), "target")
			out := v.c.mustRun("restore", v.snapshot, "--target", target, "--repo", v.copyRepo(t, local), "--expect-fingerprint", v.fingerprint)
			if !strings.Contains(out, "repository fingerprint "+v.fingerprint+", as expected") {
				t.Errorf("restore does not print the fingerprint it found:\n%s", out)
			}
			if err := testtree.Compare(v.src, target, testtree.Options{IgnoreOwner: os.Geteuid() != 0}); err != nil {
				t.Fatal(err)
			}
		}
	})

	// (a) A manifest of the attacker's: the real blobs (their IDs are
	// public) in an order of its choosing, the details sealed to the
	// recipient, and a MAC it cannot compute.
	t.Run("a forged manifest", func(t *testing.T) {
		repo := v.copyRepo(t, true)
		a := newAttacker(t, repo)
		name := "files-20991231T000000Z"
		forged := map[string]any{}
		for k, val := range pub {
			forged[k] = val
		}
		forged["name"], forged["time"] = name, "2099-12-31T00:00:00Z"
		details, _ := json.Marshal(map[string]any{"stream": []int{len(ids) - 1, 0}, "files": []any{}})
		forged["details"] = base64.StdEncoding.EncodeToString(a.seal(a.zenc.EncodeAll(details, nil)))
		line, _ := json.Marshal(forged)
		mac := sha256.Sum256(line) // the best it can do without mac_key
		doc := append(line, '\n')
		doc = append(doc, `{"mac":"`+hex.EncodeToString(mac[:])+"\"}\n"...)
		os.WriteFile(filepath.Join(repo, "snapshots", name), doc, 0o600)
		refused(t, v.c, repo, name, []string{"manifest " + name + ": invalid manifest: authentication failed"})

		// The real manifest replayed under a newer name.
		real, _ := os.ReadFile(filepath.Join(repo, "snapshots", v.snapshot))
		os.WriteFile(filepath.Join(repo, "snapshots", name), real, 0o600)
		refused(t, v.c, repo, name, []string{"manifest " + name + ": invalid manifest: it names itself " + v.snapshot})
	})

	// (b) A pack of the attacker's, encrypted to the recipient, claiming
	// the snapshot's blobs. Under its own name it is used only where the
	// real packs are gone, by a machine that indexes the packs it finds;
	// under a real pack's name, it replaces that pack on the device.
	t.Run("a forged pack", func(t *testing.T) {
		repo := v.copyRepo(t, false)
		a := newAttacker(t, repo)
		for _, p := range packNames(t, repo) {
			os.Remove(packPath(repo, p))
		}
		// In format version 2 a pack must carry its blob table sealed under
		// the repository's keys, which the attacker does not have: the
		// forged pack is refused before any blob of it is read.
		forged := a.forgePack(repo, ids, "")
		refused(t, v.c, repo, v.snapshot, []string{"have no blob table sealed under this repository's keys, data/" + forged[:2] + "/" + forged + " first", ": missing"})

		repo = v.copyRepo(t, true)
		real := packNames(t, repo)[0]
		a.forgePack(repo, ids, real)
		refused(t, v.c, repo, v.snapshot, []string{"in pack " + real + ": corrupt: no blob table sealed under this repository's keys"})
	})

	// (c) Two packs, each stored under the other's name.
	t.Run("two packs swapped", func(t *testing.T) {
		for _, local := range []bool{true, false} {
			repo := v.copyRepo(t, local)
			names := packNames(t, repo)
			p, q := packPath(repo, names[0]), packPath(repo, names[1])
			bp, _ := os.ReadFile(p)
			bq, _ := os.ReadFile(q)
			os.WriteFile(p, bq, 0o600)
			os.WriteFile(q, bp, 0o600)
			refused(t, v.c, repo, v.snapshot, []string{": corrupt: stored bytes hash to"})
		}
	})

	// (d) The attacker's own secrets in keys/secrets.age and a snapshot of
	// its own, complete and consistent: packs and manifest written by
	// pocketsnap itself, encrypted to the victim's recipient.
	t.Run("secrets replaced with a consistent forged snapshot", func(t *testing.T) {
		evil := newCLI(t).with("BACKUP_AGE_RECIPIENT="+newAttacker(t, v.repo).recipient.(*age.X25519Recipient).String(), "BACKUP_AGE_IDENTITY=")
		evilSrc := filepath.Join(evil.dir, "src")
		os.MkdirAll(filepath.Join(evilSrc, "etc"), 0o755)
		os.WriteFile(filepath.Join(evilSrc, "etc", "authorized_keys"), []byte("ssh-ed25519 AAAA attacker\n"), 0o644)
		evil.mustRun("backup", "files", "--source", evilSrc)
		evilRepo := filepath.Join(evil.dir, "data", "backups", "repo")
		name := evil.snapshots()[0]

		// All of it, the config too: its MAC is under the secrets.
		repo := v.copyRepo(t, false)
		for _, d := range []string{"config", "keys", "data", "snapshots", "sets"} {
			os.RemoveAll(filepath.Join(repo, d))
			copyTree(t, filepath.Join(evilRepo, d), filepath.Join(repo, d))
		}
		// Unwarned, it restores: nothing in the repository tells it apart.
		target := filepath.Join(t.TempDir(), "target")
		out := v.c.mustRun("restore", name, "--target", target, "--repo", repo)
		if _, err := os.Stat(filepath.Join(target, "etc", "authorized_keys")); err != nil {
			t.Fatalf("the forged snapshot did not restore: %v", err)
		}
		if strings.Contains(out, v.fingerprint) || !strings.Contains(out, "repository fingerprint ") {
			t.Errorf("restore should print the other fingerprint it found:\n%s", out)
		}
		want := []string{"repository secrets keys/secrets.age have fingerprint ", "not " + v.fingerprint, "hint: these are not the secrets of the repository you created"}
		refused(t, v.c, repo, name, append(want, "(--expect-fingerprint)"), "--expect-fingerprint", strings.ToUpper(v.fingerprint))
		expecting := v.c.with("BACKUP_REPO_FINGERPRINT=" + v.fingerprint)
		refused(t, expecting, repo, name, append(want, "(BACKUP_REPO_FINGERPRINT (environment))"))
		code, out := expecting.run("export", name, "-o", filepath.Join(t.TempDir(), "x.tar.zst.age"), "--repo", repo)
		if code != exitVerify || !strings.Contains(out, want[0]) {
			t.Errorf("export: exit %d:\n%s", code, out)
		}
		// So does recovery by hand.
		testenv.NeedTools(t, "python3", "age", "zstd")
		script, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "pocketsnap-recover"))
		b, err := exec.Command("python3", script, repo, name, "-i", filepath.Join(v.c.dir, "key.txt"), "-f", v.fingerprint).CombinedOutput()
		if err == nil || !strings.Contains(string(b), "keys/secrets.age: fingerprint ") {
			t.Errorf("pocketsnap-recover -f: %v\n%s", err, b)
		}

		// On the device, keys/secrets.age no longer matches local/keys.
		repo = v.copyRepo(t, true)
		os.Remove(filepath.Join(repo, "keys", "secrets.age"))
		copyTree(t, filepath.Join(evilRepo, "keys", "secrets.age"), filepath.Join(repo, "keys", "secrets.age"))
		refused(t, v.c, repo, v.snapshot, []string{"keys/secrets.age have fingerprint", "(the device's local/keys)"})
	})

	// (e) The manifest cut short: by half, or by its last newline.
	t.Run("a truncated manifest", func(t *testing.T) {
		repo := v.copyRepo(t, true)
		path := filepath.Join(repo, "snapshots", v.snapshot)
		b, _ := os.ReadFile(path)
		for _, n := range []int{len(b) / 2, len(b) - 1} {
			os.WriteFile(path, b[:n], 0o600)
			refused(t, v.c, repo, v.snapshot, []string{"manifest " + v.snapshot + ": invalid manifest: truncated"})
		}
	})

	t.Run("a malformed fingerprint is a usage error", func(t *testing.T) {
		code, out := v.c.run("restore", v.snapshot, "--target", filepath.Join(t.TempDir(), "x"), "--expect-fingerprint", "age1xyz")
		if code != exitUsage || !strings.Contains(out, "--expect-fingerprint: invalid repository fingerprint") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}
