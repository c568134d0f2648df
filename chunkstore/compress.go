package chunkstore

import "github.com/klauspost/compress/zstd"

// Level is how hard new blobs are compressed. A blob's ID is over its
// plaintext and a frame records nothing of the level that made it, so the
// level changes neither IDs nor deduplication, and every reader
// decompresses every level.
type Level int

const (
	// LevelFast is zstd's default level (about `zstd -3`): for a backup
	// that reads and stores a whole source, where compression is most of
	// the CPU time.
	LevelFast Level = iota
	// LevelStrong is klauspost/compress's SpeedBetterCompression (about
	// `zstd -7`): for a backup that stores little new data, where a few
	// percent fewer bytes to upload every day cost little CPU. Its
	// encoder's tables stay small (a few MiB each); the next level,
	// SpeedBestCompression, saves about 4% more but needs 32 MiB of
	// tables per encoder, too much for a phone's memory budget. A blob
	// larger than [probeSize] whose first probeSize bytes LevelFast
	// shrinks by less than 1/32 is compressed at LevelFast: it gives up
	// on incompressible data at once, where SpeedBetterCompression spends
	// ten times as long to store it raw all the same (already compressed
	// files: a database's zstd SSTs). Smaller blobs cost little either
	// way and are not probed.
	LevelStrong
	numLevels
)

// encoderLevels maps a Level to the zstd encoder level.
var encoderLevels = [numLevels]zstd.EncoderLevel{
	LevelFast:   zstd.SpeedDefault,
	LevelStrong: zstd.SpeedBetterCompression,
}

// newEncoders returns an encoder for every Level. An encoder allocates
// its tables when it first compresses, so a level never used costs
// nothing.
func newEncoders() ([numLevels]*zstd.Encoder, error) {
	var encs [numLevels]*zstd.Encoder
	for l, el := range encoderLevels {
		// A 1 MiB window: blobs are at most a few MiB and are
		// compressed on their own, so longer matches are rare, and each
		// encoder's history stays small on a phone.
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(el), zstd.WithEncoderCRC(false),
			zstd.WithLowerEncoderMem(true), zstd.WithWindowSize(1<<20))
		if err != nil {
			closeEncoders(encs)
			return encs, err
		}
		encs[l] = enc
	}
	return encs, nil
}

// closeEncoders closes the encoders made so far.
func closeEncoders(encs [numLevels]*zstd.Encoder) error {
	var first error
	for _, enc := range encs {
		if enc == nil {
			continue
		}
		if err := enc.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Compress returns the blob's stored form at [LevelFast], one zstd frame,
// appended to dst. It is safe for concurrent use.
func (s *Store) Compress(dst, plaintext []byte) []byte {
	return s.CompressAt(LevelFast, dst, plaintext)
}

// probeSize is how much of a large blob LevelStrong first compresses at
// LevelFast, to tell whether the blob compresses at all.
const probeSize = 64 << 10

// CompressAt returns the blob's stored form at level, one zstd frame,
// appended to dst. It is safe for concurrent use. When dst lacks the room
// for the largest frame plaintext can make, it is grown once, up front:
// the encoder appends block by block, and a dst grown by those appends
// is copied over and over (a fifth of a backup's memmove, issue 20).
func (s *Store) CompressAt(level Level, dst, plaintext []byte) []byte {
	if n := s.encs[level].MaxEncodedSize(len(plaintext)); cap(dst)-len(dst) < n {
		// Not slices.Grow: built with -race, its make is one more
		// allocation.
		grown := make([]byte, len(dst), len(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	if level != LevelFast && len(plaintext) > probeSize {
		// The probe's frame goes to dst's spare room, overwritten below.
		probe := plaintext[:probeSize]
		if n := len(s.encs[LevelFast].EncodeAll(probe, dst[len(dst):])); n > probeSize-probeSize/32 {
			level = LevelFast
		}
	}
	return s.encs[level].EncodeAll(plaintext, dst)
}
