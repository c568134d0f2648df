package chunkstore

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"golang.org/x/crypto/chacha20poly1305"
)

// A version 2 pack stores its blob table twice: inside the encryption, as
// the trailer of version 1 (for whoever holds the identity), and after it,
// sealed under a key derived from the device's MAC key, so that the device
// can rebuild its index without the identity:
//
//	payload        the version 1 pack as stored (age file, or plaintext)
//	sealed table   XChaCha20-Poly1305(table key, nonce, trailer, ad)
//	length         uint32 LE length of the sealed table, XOR the first
//	               4 bytes of HMAC-SHA-256(length key, nonce)
//	nonce          24 random bytes
//
// ad is tableContext followed by the 4 length bytes as stored. The keys
// are HKDF-SHA-256 of mac_key (no salt) with the infos below. The length
// is masked so that where the payload ends cannot be told from the stored
// bytes: to anyone without the keys the pack after the age header is
// uniformly random, and its size is all it reveals, as in version 1.
const (
	tableContext    = "pocketsnap pack table v2"
	tableKeyInfo    = "pocketsnap v2 pack table key"
	tableLenKeyInfo = "pocketsnap v2 pack table length key"
	tableNonceSize  = chacha20poly1305.NonceSizeX
	tableLocator    = 4 + tableNonceSize
)

// tableOverhead is how many bytes the sealed table of a trailer of n bytes
// adds after a version 2 pack's payload.
func tableOverhead(n int) int64 {
	return int64(n + chacha20poly1305.Overhead + tableLocator)
}

// packTableKeys seal and open version 2 packs' blob tables.
type packTableKeys struct {
	aead   cipher.AEAD
	lenKey []byte
}

// tableKeys derives the keys of the sealed blob tables from the MAC key.
func (k *Keys) tableKeys() (*packTableKeys, error) {
	key, err := hkdf.Key(sha256.New, k.MACKey[:], nil, tableKeyInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	lenKey, err := hkdf.Key(sha256.New, k.MACKey[:], nil, tableLenKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	return &packTableKeys{aead: aead, lenKey: lenKey}, nil
}

// lengthMask is what the sealed table's length is XORed with.
func (tk *packTableKeys) lengthMask(nonce []byte) uint32 {
	h := hmac.New(sha256.New, tk.lenKey)
	h.Write(nonce)
	return binary.LittleEndian.Uint32(h.Sum(nil))
}

// seal returns what follows a version 2 pack's payload: the sealed
// trailer, its masked length and the nonce.
func (tk *packTableKeys) seal(trailer []byte) ([]byte, error) {
	nonce := make([]byte, tableNonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return tk.sealWith(trailer, nonce), nil
}

// sealWith is seal with a given nonce.
func (tk *packTableKeys) sealWith(trailer, nonce []byte) []byte {
	n := len(trailer) + chacha20poly1305.Overhead
	var length [4]byte
	binary.LittleEndian.PutUint32(length[:], uint32(n)^tk.lengthMask(nonce))
	out := tk.aead.Seal(make([]byte, 0, int(tableOverhead(len(trailer)))), nonce, trailer, append([]byte(tableContext), length[:]...))
	out = append(out, length[:]...)
	return append(out, nonce...)
}

var errNoTable = errors.New("no blob table sealed under this repository's keys")

// locate reads the locator at the end of a version 2 pack of stored bytes
// and returns where the sealed table starts and its length; the payload is
// everything before it. Without the right keys the length is noise, which
// open then rejects.
func (tk *packTableKeys) locate(ra io.ReaderAt, stored int64) (start int64, n int, length []byte, err error) {
	if stored < tableLocator+chacha20poly1305.Overhead+trailerFixed {
		return 0, 0, nil, fmt.Errorf("%w: pack too short (%d bytes)", errNoTable, stored)
	}
	loc := make([]byte, tableLocator)
	if err := readFullAt(ra, loc, stored-tableLocator); err != nil {
		return 0, 0, nil, fmt.Errorf("failed to read pack: %w", err)
	}
	length, nonce := loc[:4], loc[4:]
	n64 := int64(binary.LittleEndian.Uint32(length) ^ tk.lengthMask(nonce))
	if n64 < chacha20poly1305.Overhead+trailerFixed || n64 > stored-tableLocator {
		return 0, 0, nil, errNoTable
	}
	return stored - tableLocator - n64, int(n64), loc, nil
}

// payloadSize returns the stored size of a version 2 pack's payload.
func (tk *packTableKeys) payloadSize(ra io.ReaderAt, stored int64) (int64, error) {
	start, _, _, err := tk.locate(ra, stored)
	return start, err
}

// open reads and authenticates the sealed blob table of a version 2 pack
// of stored bytes, and returns its entries and the payload's stored size.
func (tk *packTableKeys) open(ra io.ReaderAt, stored int64) ([]BlobEntry, int64, error) {
	start, n, loc, err := tk.locate(ra, stored)
	if err != nil {
		return nil, 0, err
	}
	if n > maxBlobsPerPack*trailerEntrySize+trailerFixed+chacha20poly1305.Overhead {
		return nil, 0, fmt.Errorf("%w: %d bytes", errNoTable, n)
	}
	sealed := make([]byte, n)
	if err := readFullAt(ra, sealed, start); err != nil {
		return nil, 0, fmt.Errorf("failed to read pack: %w", err)
	}
	trailer, err := tk.aead.Open(sealed[:0], loc[4:], sealed, append([]byte(tableContext), loc[:4]...))
	if err != nil {
		return nil, 0, errNoTable
	}
	if (len(trailer)-trailerFixed)%trailerEntrySize != 0 || int(binary.LittleEndian.Uint32(trailer[len(trailer)-4:])) != len(trailer) {
		return nil, 0, fmt.Errorf("%w: sealed table of %d bytes", errBadTrailer, len(trailer))
	}
	// The frames lie inside the payload, which is at most start bytes.
	entries, _, err := parseTrailer(trailer, start)
	if err != nil {
		return nil, 0, err
	}
	return entries, start, nil
}

// packTableKeys returns the keys of the sealed blob tables, derived once.
func (s *Store) packTableKeys() (*packTableKeys, error) {
	s.tableOnce.Do(func() {
		k, err := s.Keys()
		if err != nil {
			s.tableErr = err
			return
		}
		s.table, s.tableErr = k.tableKeys()
	})
	return s.table, s.tableErr
}

// sealedTable reads a version 2 pack's blob table with the device's keys
// alone: no identity is needed.
func (s *Store) sealedTable(id ID) ([]BlobEntry, error) {
	tk, err := s.packTableKeys()
	if err != nil {
		return nil, err
	}
	// With the identity, through the pack cache, so that the reads of
	// the pack's blobs that follow share its handle (and a bucket's
	// ranges).
	if h, err := s.packs.acquire(id); err == nil {
		defer s.packs.release(h)
		entries, _, err := tk.open(h.raw, h.stored)
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w: %w", id, ErrCorrupt, err)
		}
		return entries, nil
	} else if !errors.Is(err, ErrNoIdentity) {
		return nil, err
	}
	f, err := s.fsys.Open(PackName(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrMissing
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		return nil, fmt.Errorf("%s cannot be read by range", PackName(id))
	}
	entries, _, err := tk.open(ra, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w: %w", id, ErrCorrupt, err)
	}
	return entries, nil
}
