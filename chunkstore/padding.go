package chunkstore

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Padding says how the writer pads packs before they are stored.
type Padding int

// Paddings.
const (
	// PaddingNone stores packs as they are.
	PaddingNone Padding = iota
	// PaddingPadme pads every pack so that its stored size (after
	// encryption) is a Padmé length ([Padme]).
	PaddingPadme
)

// ParsePadding parses a padding name: "padme", or "" or "none" for none.
func ParsePadding(s string) (Padding, error) {
	switch s {
	case "", "none":
		return PaddingNone, nil
	case "padme":
		return PaddingPadme, nil
	}
	return PaddingNone, fmt.Errorf("unknown padding %q (want padme or none)", s)
}

// SetPadding sets how the store's writers pad the packs they store.
func (s *Store) SetPadding(p Padding) { s.padding = p }

// Padme returns the Padmé length of n (Nikitin et al., "Reducing Metadata
// Leakage from Encrypted Files and Communication with PURBs", PETS 2019):
// n rounded up to a multiple of 2^(E−S), where E = ⌊log₂ n⌋ and
// S = ⌊log₂ E⌋ + 1. Below its leading bit, a Padmé length has at most S
// significant bits, so it reveals O(log log n) bits of n; the cost is
// less than 2^−S of n (11.1% at worst, at 9 bytes; under 3.125% from
// 64 KiB to 4 GiB).
func Padme(n int64) int64 {
	if n < 2 {
		return n
	}
	e := bits.Len64(uint64(n)) - 1 // ⌊log₂ n⌋
	s := bits.Len64(uint64(e))     // ⌊log₂ e⌋ + 1
	mask := int64(1)<<(e-s) - 1
	return (n + mask) &^ mask
}

// The padding frame is a zstd skippable frame of zero bytes between a
// pack's last blob frame and its trailer:
//
//	magic  uint32 LE  0x184D2A50
//	size   uint32 LE  n
//	n zero bytes
const (
	paddingMagic  = 0x184D2A50
	paddingHeader = 8
)

// appendPaddingHeader appends the header of a padding frame of n bytes in
// all (n >= paddingHeader).
func appendPaddingHeader(buf []byte, n int64) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, paddingMagic)
	return binary.LittleEndian.AppendUint32(buf, uint32(n-paddingHeader))
}

// The stored form of an age-encrypted pack is the header (recipient
// stanzas, MAC and nonce), then the plaintext in chunks of 64 KiB, each
// followed by a 16-byte tag; the last chunk may be shorter.
const (
	ageChunk = 64 << 10
	ageTag   = 16
)

// sealedSize is the stored size of a plaintext of n > 0 bytes after a
// header of h bytes (0 and no chunking for an unencrypted repository).
func sealedSize(encrypted bool, h, n int64) int64 {
	if !encrypted {
		return n
	}
	return h + n + ageTag*((n+ageChunk-1)/ageChunk)
}

// plainSize inverts sealedSize: the plaintext length whose stored size is
// stored, if there is one. With encryption, the sizes just above a whole
// number of full chunks cannot be reached (one more plaintext byte adds a
// chunk and its tag).
func plainSize(encrypted bool, h, stored int64) (int64, bool) {
	if !encrypted {
		return stored, stored > 0
	}
	x := stored - h
	k := (x + ageChunk + ageTag - 1) / (ageChunk + ageTag) // chunks
	n := x - ageTag*k
	return n, k > 0 && n > (k-1)*ageChunk
}

// paddingFor returns the length of the padding frame to add to a pack
// plaintext of n bytes, stored after a header of h bytes and followed by
// tail bytes (a version 2 pack's sealed blob table), so that its stored
// size is a Padmé length: 0 when it is one already, otherwise at least the
// frame's header.
func paddingFor(encrypted bool, h, tail, n int64) int64 {
	if st := sealedSize(encrypted, h, n) + tail; Padme(st) == st {
		return 0
	}
	for t := Padme(sealedSize(encrypted, h, n+paddingHeader) + tail); ; t = Padme(t + 1) {
		if p, ok := plainSize(encrypted, h, t-tail); ok {
			return p - n
		}
	}
}
