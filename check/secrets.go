package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"filippo.io/age"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// ErrSecrets is wrapped by every problem with the stored secrets
// (keys/secrets.age, or keys/secrets in an unencrypted repository).
var ErrSecrets = errors.New("repository secrets damaged")

// age's STREAM: a 16-byte nonce after the header, and a 16-byte tag per
// 64 KiB chunk of plaintext.
const (
	ageNonce     = 16
	ageTag       = 16
	ageChunkSize = 64 << 10
)

// checkSecrets verifies the stored secrets against the keys the store
// uses (the device's own, or those the identity decrypted). Without the
// identity only the form of an encrypted copy can be checked: an age
// header with one stanza per recipient, and exactly the size that the
// keys encrypted give; its contents are then listed as unverified.
func (c *checker) checkSecrets(keys *chunkstore.Keys, decrypt bool) {
	name := c.s.SecretsName()
	problem := func(format string, a ...any) {
		c.res.Problems = append(c.res.Problems, Problem{Err: fmt.Errorf("%s: %w: %s", name, ErrSecrets, fmt.Sprintf(format, a...))})
	}
	stored, err := fs.ReadFile(c.s.FS(), name)
	if err != nil {
		problem("%v", err)
		return
	}
	plain, err := json.Marshal(keys)
	if err != nil {
		problem("%v", err)
		return
	}
	if !c.s.Codec().Encrypted() {
		if !sameKeys(stored, plain) {
			problem("does not hold the keys the repository's config is signed with")
		}
		return
	}
	header, err := age.ExtractHeader(bytes.NewReader(stored))
	if err != nil {
		problem("not an age file: %v", err)
		return
	}
	if n, want := bytes.Count(header, []byte("\n-> X25519 ")), len(c.s.Config().Recipients); n != want {
		problem("encrypted to %d X25519 recipients, the config names %d", n, want)
	}
	chunks := max((len(plain)+ageChunkSize-1)/ageChunkSize, 1)
	if want := len(header) + ageNonce + len(plain) + chunks*ageTag; len(stored) != want {
		problem("%d bytes, but the repository's keys encrypt to %d (cut short, or bytes appended)", len(stored), want)
		return
	}
	if !decrypt {
		c.res.Unverified = append(c.res.Unverified, name+" (its contents need the identity)")
		return
	}
	opened, err := c.s.Codec().OpenBytes(stored)
	if err != nil {
		problem("%v", err)
		return
	}
	if !sameKeys(opened, plain) {
		problem("does not hold the keys the repository's config is signed with")
	}
}

// sameKeys reports whether the JSON secrets b hold the same keys as the
// JSON encoding want.
func sameKeys(b, want []byte) bool {
	var k chunkstore.Keys
	if json.Unmarshal(b, &k) != nil {
		return false
	}
	got, err := json.Marshal(&k)
	return err == nil && bytes.Equal(got, want)
}
