package chunkstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
)

// Fingerprint names a repository by its secrets, in a form short enough to
// compare by eye: 100 bits of a keyed hash of the [Keys], as four groups of
// five lower-case base32 characters ("yun7z-qpxav-av5mo-gypi5"). It
// reveals nothing of the secrets. Whoever holds only the recipient can
// replace keys/secrets.age with secrets of their own and write snapshots
// that authenticate under them, but cannot give them the repository's
// fingerprint; so a restore that is told the fingerprint to expect
// refuses such a substituted repository.
type Fingerprint string

// fingerprintLabel separates the fingerprint from every other use of the
// MAC key.
const fingerprintLabel = "pocketsnap repository fingerprint v1\n"

// Lengths of a fingerprint: characters, and characters per group.
const (
	fingerprintChars = 20
	fingerprintGroup = 5
)

const base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

var fingerprintEncoding = base32.NewEncoding(base32Alphabet).WithPadding(base32.NoPadding)

// Fingerprint returns the repository fingerprint of the keys:
// HMAC-SHA-256 under MACKey of the label, BlobKey and the chunker
// polynomial (8 bytes, big-endian), in lower-case base32, the first 20
// characters.
func (k *Keys) Fingerprint() Fingerprint {
	h := hmac.New(sha256.New, k.MACKey[:])
	h.Write([]byte(fingerprintLabel))
	h.Write(k.BlobKey[:])
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(k.Polynomial)))
	s := strings.ToLower(fingerprintEncoding.EncodeToString(h.Sum(nil)))
	return groupFingerprint(s[:fingerprintChars])
}

func groupFingerprint(s string) Fingerprint {
	var b strings.Builder
	for i := 0; i < len(s); i += fingerprintGroup {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i : i+fingerprintGroup])
	}
	return Fingerprint(b.String())
}

// ParseFingerprint reads a fingerprint as a person may copy it: in either
// case, with or without the dashes and with spaces.
func ParseFingerprint(s string) (Fingerprint, error) {
	c := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(s)))
	if len(c) != fingerprintChars {
		return "", fmt.Errorf("invalid repository fingerprint %q: want %d characters in groups of %d, as 'pocketsnap init' printed it", s, fingerprintChars, fingerprintGroup)
	}
	if strings.Trim(c, base32Alphabet) != "" {
		return "", fmt.Errorf("invalid repository fingerprint %q: only letters a-z and digits 2-7", s)
	}
	return groupFingerprint(strings.ToLower(c)), nil
}

// FingerprintError reports repository secrets whose fingerprint is not the
// expected one: the repository was substituted, or its secrets replaced.
type FingerprintError struct {
	// Secrets is the repository-relative name of the file the secrets
	// were read from.
	Secrets string
	// Got is their fingerprint, Want the one expected, which came from
	// WantFrom (a flag, a configuration key, or another copy of the
	// secrets).
	Got, Want Fingerprint
	WantFrom  string
}

func (e *FingerprintError) Error() string {
	return fmt.Sprintf("repository secrets %s have fingerprint %s, not %s (%s): this is not the repository you created, or its secrets were replaced",
		e.Secrets, e.Got, e.Want, e.WantFrom)
}

// CheckFingerprint returns the fingerprint of the repository's secrets
// and, when want is not empty, fails with a *[FingerprintError] if it
// differs. from says where want came from, for the message.
func (s *Store) CheckFingerprint(want Fingerprint, from string) (Fingerprint, error) {
	k, err := s.Keys()
	if err != nil {
		return "", err
	}
	got := k.Fingerprint()
	if want != "" && got != want {
		return got, &FingerprintError{Secrets: s.keysFile, Got: got, Want: want, WantFrom: from}
	}
	return got, nil
}
