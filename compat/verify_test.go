package compat

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// tarZst returns a .tar.zst of a few entries, followed by extra bytes of
// the tar stream (e.g. record padding) before compression.
func tarZst(t *testing.T, extra []byte) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for i, body := range [][]byte{[]byte("hello\n"), randomBytes(70_000, 7), nil} {
		hdr := &tar.Header{Name: string(rune('a'+i)) + ".txt", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	tb.Write(extra)
	enc, _ := zstd.NewWriter(nil)
	return enc.EncodeAll(tb.Bytes(), nil)
}

func mustVerify(t *testing.T, path string, ids ...age.Identity) *Report {
	t.Helper()
	rep, err := Verify(context.Background(), path, ids)
	if err != nil {
		t.Fatalf("verify %s: %v", path, err)
	}
	return rep
}

// verifyFails checks that Verify fails with cause, naming file.
func verifyFails(t *testing.T, path string, cause error, file string, ids ...age.Identity) {
	t.Helper()
	_, err := Verify(context.Background(), path, ids)
	var ve *VerifyError
	if !errors.As(err, &ve) || !errors.Is(err, cause) || !errors.Is(err, ErrVerify) {
		t.Fatalf("verify %s: err = %v, want a VerifyError of %v", path, err, cause)
	}
	if ve.File != file {
		t.Fatalf("verify %s: error names %s, want %s (%v)", path, ve.File, file, err)
	}
}

func flipByte(t *testing.T, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at%len(b)] ^= 0x40
	os.WriteFile(path, b, 0o600)
}

func TestVerifyPlainArchive(t *testing.T) {
	dir := t.TempDir()
	res := write(t, dir, "db-20261129T040000Z.tar.zst", tarZst(t, nil), Options{})
	for _, p := range []string{res.Path, res.Sidecar} {
		rep := mustVerify(t, p)
		if !rep.Content || rep.Entries != 3 || rep.Encrypted || rep.Size != res.Size {
			t.Fatalf("report %+v", rep)
		}
	}
}

func TestVerifyParts(t *testing.T) {
	dir := t.TempDir()
	res := write(t, dir, "x.tar.zst", tarZst(t, nil), Options{PartSize: 10_000})
	for _, p := range []string{res.Path, res.Files[1]} {
		if rep := mustVerify(t, p); len(rep.Files) != len(res.Files) || !rep.Content {
			t.Fatalf("report %+v", rep)
		}
	}
	flipByte(t, res.Files[2], 100)
	verifyFails(t, res.Path, ErrMismatch, res.Files[2])
	os.Remove(res.Files[2])
	verifyFails(t, res.Path, ErrMissingPart, res.Files[2])
	os.Remove(res.Files[len(res.Files)-1])
	os.Rename(res.Files[len(res.Files)-2], res.Files[2])
	verifyFails(t, res.Path, ErrMissingPart, res.Files[len(res.Files)-2])
}

func TestVerifyEncrypted(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	res := write(t, dir, "x.tar.zst.age", tarZst(t, nil), Options{Seal: ageSealer{id.Recipient()}})
	if rep := mustVerify(t, res.Path); rep.Content || !rep.Encrypted {
		t.Fatalf("without identity: %+v", rep)
	}
	if rep := mustVerify(t, res.Path, id); !rep.Content || rep.Entries != 3 {
		t.Fatalf("with identity: %+v", rep)
	}
	var nm *age.NoIdentityMatchError
	if _, err := Verify(context.Background(), res.Path, []age.Identity{other}); !errors.As(err, &nm) || !strings.Contains(err.Error(), res.Path) {
		t.Fatalf("wrong identity: err = %v", err)
	}
	if _, err := Open(context.Background(), res.Path, nil); !errors.Is(err, ErrNeedIdentity) {
		t.Fatalf("open without identity: err = %v", err)
	}
}

// The old scripts encrypted an archive and kept the sidecar of its
// plaintext (<archive>.sha256 beside <archive>.age).
func TestVerifyPlaintextSidecarOfOldScripts(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	data := tarZst(t, nil)
	res := write(t, dir, "db-20250101T000000Z.tar.zst.age", data, Options{Seal: ageSealer{id.Recipient()}})
	os.Remove(res.Sidecar)
	plainSidecar := filepath.Join(dir, "db-20250101T000000Z.tar.zst.sha256")
	os.WriteFile(plainSidecar, FormatSidecar([]Sum{{SHA256: hexSum(data), Name: "db-20250101T000000Z.tar.zst"}}), 0o600)
	if rep := mustVerify(t, res.Path, id); !rep.Content || len(rep.Sidecars) != 1 || rep.Sidecars[0] != plainSidecar {
		t.Fatalf("report %+v", rep)
	}
	verifyFails(t, res.Path, ErrNoSidecar, res.Path)
	os.WriteFile(plainSidecar, FormatSidecar([]Sum{{SHA256: hexSum(nil), Name: "db-20250101T000000Z.tar.zst"}}), 0o600)
	verifyFails(t, res.Path, ErrMismatch, res.Path, id)
}

func TestVerifyDetects(t *testing.T) {
	dir := t.TempDir()
	data := tarZst(t, nil)
	setup := func(name string, data []byte) *Written { return write(t, dir, name, data, Options{}) }

	t.Run("flipped byte", func(t *testing.T) {
		res := setup("flip.tar.zst", data)
		flipByte(t, res.Path, len(data)/2)
		verifyFails(t, res.Path, ErrMismatch, res.Path)
	})
	t.Run("missing sidecar", func(t *testing.T) {
		res := setup("nosidecar.tar.zst", data)
		os.Remove(res.Sidecar)
		verifyFails(t, res.Path, ErrNoSidecar, res.Path)
	})
	t.Run("sidecar naming another file", func(t *testing.T) {
		a, b := setup("a.tar.zst", data), setup("b.tar.zst", data)
		side, _ := os.ReadFile(a.Sidecar)
		os.WriteFile(b.Sidecar, side, 0o600)
		verifyFails(t, b.Path, ErrOtherFile, b.Sidecar)
		_, err := Verify(context.Background(), b.Path, nil)
		if !strings.Contains(err.Error(), "it names a.tar.zst, not b.tar.zst") {
			t.Fatalf("message: %v", err)
		}
	})
	t.Run("malformed sidecar", func(t *testing.T) {
		res := setup("badsidecar.tar.zst", data)
		os.WriteFile(res.Sidecar, []byte("not a checksum\n"), 0o600)
		verifyFails(t, res.Path, ErrMalformed, res.Sidecar)
	})
	t.Run("not zstd", func(t *testing.T) {
		res := setup("text.tar.zst", []byte("plain text, not an archive"))
		verifyFails(t, res.Path, ErrMalformed, res.Path)
	})
	t.Run("truncated zstd", func(t *testing.T) {
		res := setup("trunc.tar.zst", data[:len(data)-10])
		verifyFails(t, res.Path, ErrMalformed, res.Path)
	})
	t.Run("no end-of-archive marker", func(t *testing.T) {
		var tb bytes.Buffer
		tw := tar.NewWriter(&tb)
		tw.WriteHeader(&tar.Header{Name: "f", Size: 3, Mode: 0o644})
		tw.Write([]byte("abc"))
		tw.Flush()
		enc, _ := zstd.NewWriter(nil)
		res := setup("nomarker.tar.zst", enc.EncodeAll(tb.Bytes(), nil))
		verifyFails(t, res.Path, ErrMalformed, res.Path)
	})
	t.Run("record padding is fine, garbage is not", func(t *testing.T) {
		mustVerify(t, setup("padded.tar.zst", tarZst(t, make([]byte, 9000))).Path)
		verifyFails(t, setup("garbage.tar.zst", tarZst(t, []byte("trailing"))).Path, ErrMalformed, filepath.Join(dir, "garbage.tar.zst"))
	})
	t.Run("missing archive", func(t *testing.T) {
		if _, err := Verify(context.Background(), filepath.Join(dir, "none.tar.zst"), nil); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
	})
}

// Open gives the tar stream across parts, and an error instead of io.EOF
// when a part does not match the sidecar.
func TestOpenReadsTheStream(t *testing.T) {
	dir := t.TempDir()
	res := write(t, dir, "x.tar.zst", tarZst(t, nil), Options{PartSize: 20_000})
	r, err := Open(context.Background(), res.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := zstd.NewReader(nil)
	want, _ := dec.DecodeAll(tarZst(t, nil), nil)
	if !bytes.Equal(stream, want) {
		t.Fatal("stream differs")
	}
	last := res.Files[len(res.Files)-1]
	b, _ := os.ReadFile(last)
	os.WriteFile(last, append(b, 0), 0o600) // the sidecar check names the part
	r, err = Open(context.Background(), res.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadAll(r); !errors.Is(err, ErrMismatch) {
		t.Fatalf("altered last part: err = %v", err)
	}
}
