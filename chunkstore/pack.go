package chunkstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits that keep a hostile pack or index from making us allocate
// without bound.
const (
	maxBlobSize     = 64 << 20
	maxPackSize     = 256 << 20
	maxBlobsPerPack = maxPackSize / 16
)

// The pack trailer is a zstd skippable frame, so the plaintext of a pack is
// still a valid zstd stream: `age -d pack | zstd -d` prints its blobs. The
// blobs' frames start at offset 0 and follow each other; between the last
// one and the trailer there is nothing, or a padding frame (padding.go).
//
//	magic    uint32 LE  0x184D2A5B (skippable frame)
//	size     uint32 LE  length of what follows
//	"PSPK"   4 bytes
//	version  uint8      1
//	count    uint32 LE
//	count ×  { id [32]byte; offset, length, raw_length uint32 LE }
//	total    uint32 LE  length of the whole trailer, magic included
const (
	trailerMagic     = 0x184D2A5B
	trailerTag       = "PSPK"
	trailerVersion   = 1
	trailerEntrySize = IDSize + 12
	trailerFixed     = 4 + 4 + 4 + 1 + 4 + 4
)

// BlobEntry locates one blob inside a pack's plaintext.
type BlobEntry struct {
	ID ID
	// Offset and Length delimit the blob's zstd frame in the pack plaintext.
	Offset, Length uint32
	// RawLength is the length of the blob's plaintext.
	RawLength uint32
}

// appendTrailer appends the trailer describing entries to buf.
func appendTrailer(buf []byte, entries []BlobEntry) []byte {
	total := trailerFixed + len(entries)*trailerEntrySize
	buf = binary.LittleEndian.AppendUint32(buf, trailerMagic)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(total-8))
	buf = append(buf, trailerTag...)
	buf = append(buf, trailerVersion)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(entries)))
	for _, e := range entries {
		buf = append(buf, e.ID[:]...)
		buf = binary.LittleEndian.AppendUint32(buf, e.Offset)
		buf = binary.LittleEndian.AppendUint32(buf, e.Length)
		buf = binary.LittleEndian.AppendUint32(buf, e.RawLength)
	}
	return binary.LittleEndian.AppendUint32(buf, uint32(total))
}

var errBadTrailer = errors.New("invalid pack trailer")

// readTrailer reads and validates the trailer of a pack plaintext of the
// given size.
func readTrailer(ra io.ReaderAt, size int64) ([]BlobEntry, error) {
	if size < trailerFixed {
		return nil, fmt.Errorf("%w: pack too short (%d bytes)", errBadTrailer, size)
	}
	var tail [4]byte
	if err := readFullAt(ra, tail[:], size-4); err != nil {
		return nil, fmt.Errorf("failed to read trailer length: %w", err)
	}
	total := int64(binary.LittleEndian.Uint32(tail[:]))
	if total < trailerFixed || total > size || (total-trailerFixed)%trailerEntrySize != 0 {
		return nil, fmt.Errorf("%w: length %d", errBadTrailer, total)
	}
	buf := make([]byte, total)
	if err := readFullAt(ra, buf, size-total); err != nil {
		return nil, fmt.Errorf("failed to read trailer: %w", err)
	}
	entries, end, err := parseTrailer(buf, size-total)
	if err != nil {
		return nil, err
	}
	if err := checkPadding(ra, end, size-total); err != nil {
		return nil, err
	}
	return entries, nil
}

// checkPadding checks what lies between the end of the last blob and the
// start of the trailer: nothing, or one padding frame.
func checkPadding(ra io.ReaderAt, end, trailerStart int64) error {
	gap := trailerStart - end
	if gap == 0 {
		return nil
	}
	var h [paddingHeader]byte
	if gap < paddingHeader {
		return fmt.Errorf("%w: blobs end at %d, trailer starts at %d", errBadTrailer, end, trailerStart)
	}
	if err := readFullAt(ra, h[:], end); err != nil {
		return fmt.Errorf("failed to read padding: %w", err)
	}
	if !bytes.Equal(h[:], appendPaddingHeader(nil, gap)) {
		return fmt.Errorf("%w: %d bytes between the blobs and the trailer are not a padding frame", errBadTrailer, gap)
	}
	return nil
}

// readFullAt fills p from ra at off. An io.ReaderAt may return io.EOF
// with a full read that ends at the end of its data (age's decrypting
// reader does): that is success.
func readFullAt(ra io.ReaderAt, p []byte, off int64) error {
	n, err := ra.ReadAt(p, off)
	if n == len(p) && errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// parseTrailer parses a trailer that starts at trailerStart in the pack,
// and returns its entries and where the last blob ends.
func parseTrailer(buf []byte, trailerStart int64) ([]BlobEntry, int64, error) {
	le := binary.LittleEndian
	n := int(le.Uint32(buf[13:17]))
	switch {
	case le.Uint32(buf[0:4]) != trailerMagic,
		int(le.Uint32(buf[4:8])) != len(buf)-8,
		string(buf[8:12]) != trailerTag:
		return nil, 0, fmt.Errorf("%w: bad header", errBadTrailer)
	case buf[12] != trailerVersion:
		return nil, 0, fmt.Errorf("%w: unsupported version %d", errBadTrailer, buf[12])
	case n != (len(buf)-trailerFixed)/trailerEntrySize:
		return nil, 0, fmt.Errorf("%w: count %d does not match length", errBadTrailer, n)
	}
	entries := make([]BlobEntry, n)
	var next int64
	for i := range entries {
		p := buf[17+i*trailerEntrySize:]
		e := &entries[i]
		copy(e.ID[:], p)
		e.Offset = le.Uint32(p[IDSize:])
		e.Length = le.Uint32(p[IDSize+4:])
		e.RawLength = le.Uint32(p[IDSize+8:])
		end := int64(e.Offset) + int64(e.Length)
		if int64(e.Offset) != next || e.Length == 0 || end > trailerStart || e.RawLength > maxBlobSize {
			return nil, 0, fmt.Errorf("%w: entry %d (%s) out of place", errBadTrailer, i, e.ID.Short())
		}
		next = end
	}
	return entries, next, nil
}
