package chunkstore

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"github.com/restic/chunker"
)

func testKeys() *Keys {
	k := &Keys{Polynomial: chunker.Pol(0x3dea92648f6e83)}
	for i := range k.MACKey {
		k.MACKey[i] = byte(i)
		k.BlobKey[i] = byte(32 + i)
	}
	return k
}

// The fingerprint as doc/format.md defines it, computed with Python's
// hmac and base64 modules:
//
//	h = hmac.new(mac_key, b"pocketsnap repository fingerprint v1\n" + blob_key + struct.pack(">Q", pol), hashlib.sha256).digest()
//	base64.b32encode(h).decode().lower()[:20]
func TestFingerprintKnownAnswer(t *testing.T) {
	if got := testKeys().Fingerprint(); got != "yun7z-qpxav-av5mo-gypi5" {
		t.Fatalf("fingerprint %s", got)
	}
}

func TestFingerprintCoversEverySecret(t *testing.T) {
	base := testKeys().Fingerprint()
	for name, change := range map[string]func(*Keys){
		"mac_key":    func(k *Keys) { k.MACKey[31] ^= 1 },
		"blob_key":   func(k *Keys) { k.BlobKey[0] ^= 1 },
		"polynomial": func(k *Keys) { k.Polynomial ^= 2 },
	} {
		k := testKeys()
		change(k)
		if k.Fingerprint() == base {
			t.Errorf("changing %s keeps the fingerprint", name)
		}
	}
}

func TestParseFingerprint(t *testing.T) {
	for _, s := range []string{"yun7z-qpxav-av5mo-gypi5", "YUN7Z-QPXAV-AV5MO-GYPI5", " yun7zqpxavav5mogypi5\n", "yun7z qpxav av5mo gypi5"} {
		fp, err := ParseFingerprint(s)
		if err != nil || fp != "yun7z-qpxav-av5mo-gypi5" {
			t.Errorf("ParseFingerprint(%q) = %q, %v", s, fp, err)
		}
	}
	for _, s := range []string{"", "yun7z-qpxav-av5mo-gypi", "yun7z-qpxav-av5mo-gypi55", "yun7z-qpxav-av5mo-gyp01", "age1qpxavav5mogypi5xx"} {
		if fp, err := ParseFingerprint(s); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted: %q", s, fp)
		}
	}
}

// A machine without local/ (a copy of the repository, the identity at
// hand) reads the secrets from keys/secrets.age, and names that file when
// their fingerprint is not the expected one.
func TestCheckFingerprint(t *testing.T) {
	s := gcStore(t)
	keys, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	fp, err := s.CheckFingerprint(keys.Fingerprint(), "test")
	if err != nil || fp != keys.Fingerprint() {
		t.Fatalf("CheckFingerprint of the right fingerprint: %q, %v", fp, err)
	}
	if fp, err := s.CheckFingerprint("", ""); err != nil || fp != keys.Fingerprint() {
		t.Fatalf("CheckFingerprint with nothing expected: %q, %v", fp, err)
	}
	_, err = s.CheckFingerprint(testKeys().Fingerprint(), "--expect-fingerprint")
	var fe *FingerprintError
	if !errors.As(err, &fe) || fe.Secrets != KeysName || fe.WantFrom != "--expect-fingerprint" {
		t.Fatalf("wrong fingerprint: %v", err)
	}

	os.RemoveAll(filepath.Join(s.Dir(), LocalDir))
	fresh, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	fresh.SetIdentities(s.codec.identities)
	_, err = fresh.CheckFingerprint(testKeys().Fingerprint(), "test")
	if !errors.As(err, &fe) || fe.Secrets != secretsFileAge || fe.Got != keys.Fingerprint() {
		t.Fatalf("wrong fingerprint on a fresh machine: %v", err)
	}
}

// On the device, a keys/secrets.age replaced by someone holding only the
// recipient is noticed as soon as the identity is brought in.
func TestCheckIdentityNoticesReplacedSecrets(t *testing.T) {
	s := gcStore(t)
	if err := s.CheckIdentity(); err != nil {
		t.Fatal(err)
	}
	forged, _ := json.Marshal(testKeys())
	sealed, err := s.codec.SealBytes(forged)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), secretsFileAge), sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	reopened, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	reopened.SetIdentities(s.codec.identities)
	err = reopened.CheckIdentity()
	var fe *FingerprintError
	if !errors.As(err, &fe) || fe.Secrets != secretsFileAge || fe.Got != testKeys().Fingerprint() {
		t.Fatalf("replaced secrets: %v", err)
	}

	// Another identity fails as before.
	other, _ := age.GenerateX25519Identity()
	reopened.SetIdentities([]age.Identity{other})
	if err := reopened.CheckIdentity(); !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("wrong identity: %v", err)
	}
}
