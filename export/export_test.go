package export_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/export"
	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/internal/testtree"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// source writes a test tree with incompressible files beside compressible
// ones, so that the snapshot holds zstd frames of raw blocks too.
func source(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	if err := testtree.Generate(src, 20); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{100 << 10, 3 << 20} { // a whole-file blob, and chunks
		b := make([]byte, n)
		rand.Read(b)
		if err := os.WriteFile(filepath.Join(src, "random-"+string(rune('a'+n%26))), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// exported runs an export of snap into dir, failing the test on error.
func exported(t *testing.T, s *chunkstore.Store, snap, dir string, plain bool) *export.Result {
	t.Helper()
	res, err := export.Run(context.Background(), s, export.Options{Snapshot: snap, Out: dir + "/", Plain: plain})
	if err != nil {
		t.Fatalf("export of %s: %v", snap, err)
	}
	return res
}

func sh(t *testing.T, dir, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// Issue 20 (export goal): an export is the same bytes for the same
// snapshot on every run: the .tar.zst exactly, and the encrypted archive
// once age -d has decrypted it (age's file key is random by design), with
// the same sidecar of the decrypted archive. Real sha256sum -c, age -d,
// zstd -d and GNU tar accept it, and it decompresses to the manifest's
// stream digest.
func TestExportByteIdentical(t *testing.T) {
	testenv.NeedTools(t, "age", "zstd", "tar", "sha256sum", "bash")
	r := repotest.New(t, false)
	src := source(t)
	snap := r.Backup(t, "files", src, nil).Manifest.Name
	s := r.Open(t, true)
	key := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(key, []byte(r.Identity.String()+"\n"), 0o600)

	work := t.TempDir()
	var zsts [][]byte
	for _, run := range []string{"plain1", "plain2"} {
		res := exported(t, s, snap, filepath.Join(work, run), true)
		if res.Encrypted || res.Archive.PlainSidecar != "" {
			t.Fatalf("--plain export is encrypted: %+v", res.Archive)
		}
		b, err := os.ReadFile(res.Archive.Path)
		if err != nil {
			t.Fatal(err)
		}
		zsts = append(zsts, b)
	}
	var plainSidecars []string
	for _, run := range []string{"age1", "age2"} {
		dir := filepath.Join(work, run)
		res := exported(t, s, snap, dir, false)
		if !res.Encrypted {
			t.Fatal("export of an encrypted repository is not encrypted")
		}
		name := filepath.Base(res.Archive.Path)
		plain := strings.TrimSuffix(name, compat.AgeExt)
		sh(t, dir, "sha256sum -c --strict "+name+".sha256 && age -d -i "+key+" -o "+plain+" "+name+" && sha256sum -c --strict "+plain+".sha256")
		b, err := os.ReadFile(filepath.Join(dir, plain))
		if err != nil {
			t.Fatal(err)
		}
		zsts = append(zsts, b)
		sc, _ := os.ReadFile(res.Archive.PlainSidecar)
		plainSidecars = append(plainSidecars, string(sc))
	}
	for i := 1; i < len(zsts); i++ {
		if !bytes.Equal(zsts[0], zsts[i]) {
			t.Fatalf("export %d's .tar.zst differs from the first (%d and %d bytes)", i+1, len(zsts[i]), len(zsts[0]))
		}
	}
	if plainSidecars[0] != plainSidecars[1] {
		t.Fatalf("the sidecars of the decrypted archives differ:\n%s%s", plainSidecars[0], plainSidecars[1])
	}

	m := r.Load(t, snap)
	dir := filepath.Join(work, "plain1")
	name := snap + compat.Ext
	sh(t, dir, "sha256sum -c --strict "+name+".sha256")
	digest := strings.Fields(sh(t, dir, "zstd -d -q -c "+name+" | sha256sum"))[0]
	if want := r.StreamSHA256(t, m.Name); digest != want {
		t.Fatalf("zstd -d of the export gives SHA-256 %s, the snapshot's stream has %s", digest, want)
	}
	sh(t, dir, "mkdir out && tar --zstd -xpf "+name+" -C out")
	if err := testtree.Compare(src, filepath.Join(dir, "out"), testtree.Options{IgnoreOwner: os.Geteuid() != 0}); err != nil {
		t.Fatalf("the tree GNU tar extracts from the export differs: %v", err)
	}
}

// packOf returns the pack holding the largest blob of snap's stream.
func packOf(t *testing.T, s *chunkstore.Store, m *manifest.Manifest) (chunkstore.ID, chunkstore.ID, chunkstore.Location) {
	t.Helper()
	ix, err := s.Index()
	if err != nil {
		t.Fatal(err)
	}
	var best chunkstore.ID
	var loc chunkstore.Location
	for _, id := range m.StreamIDs() {
		if l, ok := ix.Lookup(id); ok && l.Length > loc.Length {
			best, loc = id, l
		}
	}
	return best, loc.Pack, loc
}

// Issue 20 (export goal): a pack altered on disk fails the export closed:
// the error names the blob and the pack at fault, and nothing is left in
// the output directory, neither under the archive's names nor as a
// temporary file. Both for an encrypted pack (age's authentication
// fails) and for a plaintext one whose frame still decompresses (the
// keyed ID fails).
func TestExportTamperedFailsClosed(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(map[bool]string{false: "encrypted", true: "plaintext"}[plain], func(t *testing.T) {
			r := repotest.New(t, plain)
			snap := r.Backup(t, "files", source(t), nil).Manifest.Name
			m := r.Load(t, snap)
			s := r.Open(t, true)
			blob, pack, loc := packOf(t, s, m)
			p := filepath.Join(r.Dir, chunkstore.PackName(pack))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if plain {
				// A literal byte of a raw block: the frame still decodes,
				// to other content.
				b[loc.Offset+loc.Length/2] ^= 0x01
			} else {
				b[len(b)/2] ^= 0x01
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s = r.Open(t, true) // as a new run would
			out := t.TempDir()
			_, err = export.Run(context.Background(), s, export.Options{Snapshot: snap, Out: out + "/"})
			t.Logf("export from a tampered pack: %v", err)
			var be *chunkstore.BlobError
			if !errors.As(err, &be) || be.Pack != pack || !errors.Is(err, chunkstore.ErrCorrupt) {
				t.Fatalf("export from a tampered pack: %v, want a corrupt blob error of pack %s", err, pack)
			}
			if plain && be.Blob != blob {
				t.Errorf("the error names blob %s, the tampered one is %s", be.Blob, blob)
			}
			for _, name := range []string{pack.String(), snap} {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("the error does not name %s: %v", name, err)
				}
			}
			if ents, _ := os.ReadDir(out); len(ents) > 0 {
				t.Fatalf("a failed export left %d files in %s, first %s", len(ents), out, ents[0].Name())
			}
		})
	}
}

// Issue 20 (export goal): an export to a writer (stdout) is the same
// .tar.zst as the file, and a tampered pack makes it fail, never return
// as if complete.
func TestExportToWriter(t *testing.T) {
	r := repotest.New(t, true)
	snap := r.Backup(t, "files", source(t), nil).Manifest.Name
	s := r.Open(t, true)
	var buf bytes.Buffer
	res, err := export.Run(context.Background(), s, export.Options{Snapshot: snap, Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	file := exported(t, s, snap, t.TempDir(), true)
	b, _ := os.ReadFile(file.Archive.Path)
	if res.Archive != nil || res.Bytes != int64(buf.Len()) || !bytes.Equal(buf.Bytes(), b) {
		t.Fatalf("stdout export: %d bytes (result says %d), the file has %d; equal %v", buf.Len(), res.Bytes, len(b), bytes.Equal(buf.Bytes(), b))
	}
	sum := sha256.Sum256(b)
	if got := file.Archive.SHA256; got != hex.EncodeToString(sum[:]) {
		t.Fatalf("result SHA-256 %s, the file's is %x", got, sum)
	}
}

// Export by kind picks the newest snapshot of the kind, and counts its
// progress through the Reporter to the total it announced; a kind
// without snapshots is an error.
func TestExportReports(t *testing.T) {
	r := repotest.New(t, true)
	src := source(t)
	first := r.Backup(t, "files", src, nil).Manifest.Name
	s := r.Open(t, true)
	rep := &recorder{}
	res, err := export.Run(context.Background(), s, export.Options{Kind: "files", Out: t.TempDir() + "/", Reporter: rep})
	if err != nil {
		t.Fatal(err)
	}
	if res.Snapshot != first {
		t.Fatalf("exported %s, want the newest files snapshot %s", res.Snapshot, first)
	}
	if rep.copying != 1 || rep.done != 1 || rep.total == 0 || rep.counted != rep.total {
		t.Fatalf("reporter: %d starts, %d ends, total %d, counted %d", rep.copying, rep.done, rep.total, rep.counted)
	}
	if _, err := export.Run(context.Background(), s, export.Options{Kind: "nosuch", Out: t.TempDir() + "/"}); err == nil {
		t.Fatal("export of a kind without snapshots succeeded")
	}
}

type recorder struct {
	info, warn     []string
	copying, done  int
	total, counted int64
}

func (r *recorder) Info(msg string) { r.info = append(r.info, msg) }
func (r *recorder) Warn(msg string) { r.warn = append(r.warn, msg) }
func (r *recorder) Copying(_ string, total int64, p *pipeline.Progress) func() {
	r.copying++
	r.total = total
	return func() { r.done++; r.counted = p.Bytes.Load() }
}
