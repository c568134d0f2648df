package chunkstore

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/golden"
)

// vectorDir holds the format's known-answer vectors (doc/format.md).
const vectorDir = "../testdata/vectors"

// vectorKeys are the fixed secrets of the vectors: the polynomial of
// doc/format.md's example, blob key bytes 0..31, MAC key bytes 32..63.
func vectorKeys() *Keys {
	k := &Keys{Polynomial: 0x3dea92648f6e83}
	for i := range k.BlobKey {
		k.BlobKey[i] = byte(i)
		k.MACKey[i] = byte(32 + i)
	}
	return k
}

// vectorPlaintexts are the blob plaintexts of the vectors.
func vectorPlaintexts() [][]byte {
	long := make([]byte, 100000)
	for i := range long {
		long[i] = byte(i * 7)
	}
	return [][]byte{nil, []byte("pocketsnap"), make([]byte, 1024), long}
}

// vectorEntries are the blob entries of the pack trailer vectors: the
// plaintexts' IDs, frames of 13, 113, 213 and 313 bytes from offset 0. It
// returns them and where the last frame ends.
func vectorEntries() ([]BlobEntry, uint32) {
	k := vectorKeys()
	var entries []BlobEntry
	off := uint32(0)
	for i, p := range vectorPlaintexts() {
		e := BlobEntry{ID: k.BlobID(p), Offset: off, Length: uint32(13 + 100*i), RawLength: uint32(len(p))}
		off += e.Length
		entries = append(entries, e)
	}
	return entries, off
}

// hexLines writes b as lines of 32 bytes in hex.
func hexLines(b []byte) string {
	var s strings.Builder
	for len(b) > 0 {
		n := min(32, len(b))
		s.WriteString(hex.EncodeToString(b[:n]) + "\n")
		b = b[n:]
	}
	return s.String()
}

// Issue 19: blob IDs are HMAC-SHA-256 under the blob key; pinned for a
// fixed key and plaintexts, so that the keyed hash cannot change unseen.
func TestVectorBlobIDs(t *testing.T) {
	k := vectorKeys()
	var out strings.Builder
	out.WriteString("# Blob IDs: HMAC-SHA-256(blob_key, plaintext); blob_key = bytes 00..1f.\n")
	out.WriteString("# length, SHA-256 of the plaintext (to name it), blob ID\n")
	for _, p := range vectorPlaintexts() {
		fmt.Fprintf(&out, "%d %x %s\n", len(p), sha256.Sum256(p), k.BlobID(p))
	}
	golden.Check(t, filepath.Join(vectorDir, "blob-ids.txt"), []byte(out.String()))
}

// Issue 19: the bytes of a version 1 pack trailer and of a padding frame
// header, for fixed entries.
func TestVectorPackTrailer(t *testing.T) {
	entries, off := vectorEntries()
	var out strings.Builder
	out.WriteString("# Pack trailer, version 1, of four entries (blob IDs of blob-ids.txt;\n")
	out.WriteString("# frames of 13, 113, 213 and 313 bytes from offset 0).\n")
	out.WriteString(hexLines(appendTrailer(nil, entries)))
	out.WriteString("# Padding frame header for a 40-byte padding frame.\n")
	out.WriteString(hexLines(appendPaddingHeader(nil, 40)))
	golden.Check(t, filepath.Join(vectorDir, "pack-trailer-v1.txt"), []byte(out.String()))

	// The pinned bytes parse back to the entries.
	trailer := appendTrailer(nil, entries)
	got, end, err := parseTrailer(trailer, int64(off))
	if err != nil || end != int64(off) || len(got) != len(entries) || got[3] != entries[3] {
		t.Fatalf("parseTrailer: %v, %d, %v", err, end, got)
	}
}

// vectorConfig is a fixed version 1 config.
func vectorConfig() Config {
	return Config{Params: Params{
		Version:    1,
		ID:         "000102030405060708090a0b0c0d0e0f",
		Encoding:   EncodingAge,
		Recipients: []string{"age1ecm2f970ea8wndhkqsqjnqhhkl27fcyq8mmum0ejtpsl9cs5tyesxu7v75"},
		Chunking:   DefaultChunking,
		PackSize:   DefaultPackSize,
		Created:    time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC),
	}}
}

// Issue 19: version 1 computes the config MAC over Go's JSON re-encoding
// of the parsed config, not over the stored bytes. Pin the message and
// the MAC for a fixed config and key, so that a Go release that encodes
// JSON differently fails this test instead of every repository; and
// check that the committed v1 repository's config, as stored, verifies.
func TestVectorConfigMACv1(t *testing.T) {
	k := vectorKeys()
	c := vectorConfig()
	if err := c.sign(k); err != nil {
		t.Fatal(err)
	}
	msg, err := c.macMessage()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	out.WriteString("# Config MAC, version 1: HMAC-SHA-256(mac_key, message); mac_key = bytes 20..3f.\n")
	out.WriteString("# The message (between the lines), then the MAC.\n---\n")
	out.Write(msg)
	out.WriteString("\n---\n" + c.MAC + "\n")
	golden.Check(t, filepath.Join(vectorDir, "config-mac-v1.txt"), []byte(out.String()))

	repo := "../testdata/repo-v1/repo"
	cb, err := os.ReadFile(filepath.Join(repo, configFile))
	if err != nil {
		t.Fatal(err)
	}
	kb, err := os.ReadFile(filepath.Join(repo, KeysName))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(cb)
	if err != nil {
		t.Fatal(err)
	}
	fk, err := parseKeys(kb, KeysName)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.verify(fk); err != nil {
		t.Errorf("the committed v1 config does not verify: %v", err)
	}
}

// Version 2: the config's MAC over the stored bytes of its first line, and
// the stored config, for the fixed config and key.
func TestVectorConfigMACv2(t *testing.T) {
	c := vectorConfig()
	c.Version = 2
	b, err := c.encode(vectorKeys())
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	out.WriteString("# Config, version 2, as stored: the parameters on one line, then the MAC,\n")
	out.WriteString("# HMAC-SHA-256(mac_key, \"pocketsnap config v2\\n\" + first line); mac_key = bytes 20..3f.\n---\n")
	out.Write(b)
	golden.Check(t, filepath.Join(vectorDir, "config-v2.txt"), []byte(out.String()))

	p, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.verify(vectorKeys()); err != nil {
		t.Fatal(err)
	}
	// The MAC covers the bytes as stored: the same parameters spelt
	// otherwise (a space) do not verify.
	spaced := bytes.Replace(b, []byte(`"version":2,`), []byte(`"version": 2,`), 1)
	if p, err := ParseConfig(spaced); err != nil || p.verify(vectorKeys()) == nil {
		t.Fatalf("a respelt config: %v, verifies", err)
	}
}

// Version 2: the keys derived for the sealed blob tables, and the sealed
// table of the trailer of pack-trailer-v1.txt under a fixed nonce.
func TestVectorSealedTable(t *testing.T) {
	tk, err := vectorKeys().tableKeys()
	if err != nil {
		t.Fatal(err)
	}
	k := vectorKeys()
	entries, off := vectorEntries()
	nonce := make([]byte, tableNonceSize)
	for i := range nonce {
		nonce[i] = byte(0xa0 + i)
	}
	lenKey, _ := hkdf.Key(sha256.New, k.MACKey[:], nil, tableLenKeyInfo, 32)
	tableKey, _ := hkdf.Key(sha256.New, k.MACKey[:], nil, tableKeyInfo, 32)
	sealed := tk.sealWith(appendTrailer(nil, entries), nonce)
	var out strings.Builder
	out.WriteString("# Sealed blob table, version 2 (mac_key = bytes 20..3f; nonce = bytes a0..b7).\n")
	fmt.Fprintf(&out, "# table key  = HKDF-SHA-256(mac_key, no salt, %q)\n%x\n", tableKeyInfo, tableKey)
	fmt.Fprintf(&out, "# length key = HKDF-SHA-256(mac_key, no salt, %q)\n%x\n", tableLenKeyInfo, lenKey)
	fmt.Fprintf(&out, "# length mask = first 4 bytes (LE) of HMAC-SHA-256(length key, nonce)\n%08x\n", tk.lengthMask(nonce))
	out.WriteString("# What follows the payload of a pack whose trailer is that of pack-trailer-v1.txt:\n")
	out.WriteString(hexLines(sealed))
	golden.Check(t, filepath.Join(vectorDir, "sealed-table-v2.txt"), []byte(out.String()))

	got, payload, err := tk.open(bytes.NewReader(append(make([]byte, off), sealed...)), int64(off)+int64(len(sealed)))
	if err != nil || payload != int64(off) || len(got) != len(entries) || got[2] != entries[2] {
		t.Fatalf("open: %v, payload %d", err, payload)
	}
}
