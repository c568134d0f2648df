package chunkstore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"sync"

	"github.com/restic/chunker"
)

// Keys are the repository secrets. The device keeps them in plaintext
// (mode 0600, local/keys); the repository holds them only encrypted to the
// recipients (keys/secrets.age), so that a new device holding the identity
// can adopt the repository.
type Keys struct {
	// Polynomial is the chunker's irreducible polynomial. Keeping it secret
	// hides chunk boundaries, which would otherwise fingerprint content.
	Polynomial chunker.Pol
	// BlobKey keys the HMAC-SHA-256 that names blobs.
	BlobKey [32]byte
	// MACKey authenticates manifests.
	MACKey [32]byte

	hashers sync.Pool
}

type keysJSON struct {
	Version    int    `json:"version"`
	Polynomial string `json:"chunker_polynomial"`
	BlobKey    string `json:"blob_key"`
	MACKey     string `json:"mac_key"`
}

// NewKeys generates fresh random repository secrets.
func NewKeys() (*Keys, error) {
	pol, err := chunker.RandomPolynomial()
	if err != nil {
		return nil, fmt.Errorf("failed to generate chunker polynomial: %w", err)
	}
	k := &Keys{Polynomial: pol}
	if _, err := rand.Read(k.BlobKey[:]); err != nil {
		return nil, fmt.Errorf("failed to generate blob key: %w", err)
	}
	if _, err := rand.Read(k.MACKey[:]); err != nil {
		return nil, fmt.Errorf("failed to generate MAC key: %w", err)
	}
	return k, nil
}

// MarshalJSON encodes the keys in the documented secrets format.
func (k *Keys) MarshalJSON() ([]byte, error) {
	return json.Marshal(keysJSON{
		Version:    1,
		Polynomial: fmt.Sprintf("0x%x", uint64(k.Polynomial)),
		BlobKey:    hex.EncodeToString(k.BlobKey[:]),
		MACKey:     hex.EncodeToString(k.MACKey[:]),
	})
}

// UnmarshalJSON decodes and validates the secrets format.
func (k *Keys) UnmarshalJSON(b []byte) error {
	var j keysJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Version != 1 {
		return fmt.Errorf("unsupported secrets version %d", j.Version)
	}
	var pol uint64
	if _, err := fmt.Sscanf(j.Polynomial, "0x%x", &pol); err != nil {
		return fmt.Errorf("invalid chunker_polynomial %q", j.Polynomial)
	}
	k.Polynomial = chunker.Pol(pol)
	if !k.Polynomial.Irreducible() {
		return fmt.Errorf("chunker_polynomial %q is not irreducible", j.Polynomial)
	}
	if err := decodeKey(k.BlobKey[:], j.BlobKey); err != nil {
		return fmt.Errorf("invalid blob_key: %w", err)
	}
	if err := decodeKey(k.MACKey[:], j.MACKey); err != nil {
		return fmt.Errorf("invalid mac_key: %w", err)
	}
	return nil
}

func decodeKey(dst []byte, s string) error {
	b, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	if len(b) != len(dst) {
		return fmt.Errorf("want %d bytes, got %d", len(dst), len(b))
	}
	copy(dst, b)
	return nil
}

// BlobID returns the keyed ID of a blob's plaintext: HMAC-SHA-256 under
// BlobKey. It is safe for concurrent use.
func (k *Keys) BlobID(plaintext []byte) ID {
	h, _ := k.hashers.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, k.BlobKey[:])
	}
	h.Reset()
	h.Write(plaintext)
	var id ID
	h.Sum(id[:0])
	k.hashers.Put(h)
	return id
}

// MAC returns HMAC-SHA-256 of msg under MACKey.
func (k *Keys) MAC(msg []byte) []byte {
	h := k.NewMAC()
	h.Write(msg)
	return h.Sum(nil)
}

// NewMAC returns an HMAC-SHA-256 under MACKey, for a message written in
// pieces; its Sum is what MAC returns for the whole message.
func (k *Keys) NewMAC() hash.Hash { return hmac.New(sha256.New, k.MACKey[:]) }

// VerifyMAC reports whether mac authenticates msg, in constant time.
func (k *Keys) VerifyMAC(msg, mac []byte) bool {
	return hmac.Equal(k.MAC(msg), mac)
}
