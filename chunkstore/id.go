package chunkstore

import (
	"encoding/hex"
	"fmt"
)

// IDSize is the length in bytes of an [ID].
const IDSize = 32

// ID names a blob (a keyed hash of its plaintext) or a stored object (the
// SHA-256 of its bytes).
type ID [IDSize]byte

// String returns the ID as lowercase hex. An ID known only by its
// [PrefixSize]-byte prefix (a version 2 manifest's blob that no index
// resolves, which stands as the prefix followed by zeros) prints as the
// prefix alone, so that a message names what the manifest holds rather
// than a padded ID no blob has.
func (id ID) String() string {
	if id != (ID{}) && [IDSize - PrefixSize]byte(id[PrefixSize:]) == [IDSize - PrefixSize]byte{} {
		return hex.EncodeToString(id[:PrefixSize])
	}
	return hex.EncodeToString(id[:])
}

// Short returns the first eight hex digits, for messages.
func (id ID) Short() string { return id.String()[:8] }

// ParseID parses a 64-digit hex ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("invalid ID %q: want %d hex digits", s, 2*IDSize)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid ID %q: %w", s, err)
	}
	return id, nil
}
