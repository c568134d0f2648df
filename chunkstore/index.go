package chunkstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// PackInfo describes a stored pack: its ID (the SHA-256 of its stored
// bytes), its stored size and the blobs it holds.
type PackInfo struct {
	ID    ID
	Size  int64
	Blobs []BlobEntry
}

// Location says where a blob is stored.
type Location struct {
	Pack ID
	BlobEntry
}

// blobRef says where an indexed blob's entry is: packs[pack].Blobs[i].
type blobRef struct{ pack, i uint32 }

// Index maps blob IDs to their packs. It is safe for concurrent use.
//
// On the device the index is kept in plaintext as an append-only log
// (local/index); it is never uploaded. A pack is added to the log only
// after the pack itself has been renamed into place, so the log never names
// a blob that is not stored.
type Index struct {
	mu     sync.RWMutex
	packs  []PackInfo
	byPack map[ID]uint32
	// blobs maps the first 8 bytes of a blob ID to the blob's entry in
	// packs, the only copy of it; more holds the rare blobs whose prefix
	// another blob has. Keys of 8 bytes rather than 32 make the map, the
	// index's largest part, about a third of the size: a backup holds the
	// whole index, and a source of many files makes many blobs.
	blobs map[uint64]blobRef
	more  map[ID]blobRef
}

func newIndex() *Index {
	return &Index{byPack: map[ID]uint32{}, blobs: map[uint64]blobRef{}, more: map[ID]blobRef{}}
}

func idPrefix(id ID) uint64 { return binary.LittleEndian.Uint64(id[:8]) }

// find returns the blob's entry and the index of its pack. The caller
// holds mu.
func (ix *Index) find(id ID) (BlobEntry, uint32, bool) {
	r, ok := ix.blobs[idPrefix(id)]
	if !ok {
		return BlobEntry{}, 0, false
	}
	if e := ix.packs[r.pack].Blobs[r.i]; e.ID == id {
		return e, r.pack, true
	}
	if r, ok = ix.more[id]; ok {
		return ix.packs[r.pack].Blobs[r.i], r.pack, true
	}
	return BlobEntry{}, 0, false
}

// Has reports whether the blob is stored.
func (ix *Index) Has(id ID) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, _, ok := ix.find(id)
	return ok
}

// Lookup returns where the blob is stored.
func (ix *Index) Lookup(id ID) (Location, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e, pack, ok := ix.find(id)
	if !ok {
		return Location{}, false
	}
	return Location{Pack: ix.packs[pack].ID, BlobEntry: e}, true
}

// PrefixSize is the length of the blob-ID prefixes that name blobs in
// the public part of a version 2 manifest.
const PrefixSize = 16

// Resolve returns the ID of the indexed blob whose ID begins with prefix
// (the first [PrefixSize] bytes of an ID). ok is false when no indexed
// blob has that prefix, or when two different ones have it: a reader
// then fails closed rather than choose.
func (ix *Index) Resolve(prefix [PrefixSize]byte) (id ID, ok bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := 0
	if r, found := ix.blobs[binary.LittleEndian.Uint64(prefix[:8])]; found {
		if e := ix.packs[r.pack].Blobs[r.i]; [PrefixSize]byte(e.ID[:PrefixSize]) == prefix {
			id, n = e.ID, 1
		}
	}
	for other := range ix.more {
		if [PrefixSize]byte(other[:PrefixSize]) == prefix && (n == 0 || other != id) {
			id, n = other, n+1
		}
	}
	return id, n == 1
}

// empty reports whether the index holds no blob.
func (ix *Index) empty() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.blobs) == 0
}

// HasPack reports whether the pack is indexed.
func (ix *Index) HasPack(id ID) bool {
	_, ok := ix.Pack(id)
	return ok
}

// Pack returns an indexed pack.
func (ix *Index) Pack(id ID) (PackInfo, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	i, ok := ix.byPack[id]
	if !ok {
		return PackInfo{}, false
	}
	return ix.packs[i], true
}

// Packs returns every indexed pack.
func (ix *Index) Packs() []PackInfo {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return append([]PackInfo(nil), ix.packs...)
}

func (ix *Index) add(p PackInfo) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.byPack[p.ID]; ok {
		return
	}
	n := uint32(len(ix.packs))
	ix.packs = append(ix.packs, p)
	ix.byPack[p.ID] = n
	for i, b := range p.Blobs {
		if _, _, ok := ix.find(b.ID); ok {
			continue // the first pack that holds a blob is where it is read
		}
		r := blobRef{pack: n, i: uint32(i)}
		if _, taken := ix.blobs[idPrefix(b.ID)]; taken {
			ix.more[b.ID] = r
		} else {
			ix.blobs[idPrefix(b.ID)] = r
		}
	}
}

// The log record: length uint32 LE, payload, CRC-32C of payload uint32 LE;
// payload: pack ID, stored size uint64 LE, blob count uint32 LE, then the
// blobs as in the pack trailer.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

func appendRecord(buf []byte, p PackInfo) []byte {
	payload := make([]byte, 0, IDSize+12+len(p.Blobs)*trailerEntrySize)
	payload = append(payload, p.ID[:]...)
	payload = binary.LittleEndian.AppendUint64(payload, uint64(p.Size))
	payload = binary.LittleEndian.AppendUint32(payload, uint32(len(p.Blobs)))
	for _, e := range p.Blobs {
		payload = append(payload, e.ID[:]...)
		payload = binary.LittleEndian.AppendUint32(payload, e.Offset)
		payload = binary.LittleEndian.AppendUint32(payload, e.Length)
		payload = binary.LittleEndian.AppendUint32(payload, e.RawLength)
	}
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(payload)))
	buf = append(buf, payload...)
	return binary.LittleEndian.AppendUint32(buf, crc32.Checksum(payload, crcTable))
}

// parseLog decodes the records of the log. A record whose checksum fails
// but whose length is plausible (bit rot in the middle of the log) is
// skipped, so the records after it survive; a record that runs past the end
// (a torn append after a crash) ends the log. It returns the packs, the
// length of the part of the log that was understood, and how many records
// were skipped.
func parseLog(b []byte) (packs []PackInfo, valid, skipped int) {
	off := 0
	for len(b)-off >= 8 {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		if n < IDSize+12 || n > len(b)-off-8 {
			break
		}
		payload := b[off+4 : off+4+n]
		p, ok := parsePayload(payload)
		if !ok || crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(b[off+4+n:]) {
			skipped++
		} else {
			packs = append(packs, p)
		}
		off += 8 + n
	}
	return packs, off, skipped
}

func parsePayload(b []byte) (PackInfo, bool) {
	le := binary.LittleEndian
	var p PackInfo
	copy(p.ID[:], b)
	p.Size = int64(le.Uint64(b[IDSize:]))
	count := int(le.Uint32(b[IDSize+8:]))
	rest := b[IDSize+12:]
	if count != len(rest)/trailerEntrySize || len(rest)%trailerEntrySize != 0 {
		return p, false
	}
	p.Blobs = make([]BlobEntry, count)
	for i := range p.Blobs {
		e := rest[i*trailerEntrySize:]
		copy(p.Blobs[i].ID[:], e)
		p.Blobs[i].Offset = le.Uint32(e[IDSize:])
		p.Blobs[i].Length = le.Uint32(e[IDSize+4:])
		p.Blobs[i].RawLength = le.Uint32(e[IDSize+8:])
	}
	return p, true
}

// indexLog is the device's append-only index file.
type indexLog struct {
	mu   sync.Mutex
	path string
	// dirty is set by load when the file holds more than its readable
	// records (a torn tail, a damaged record) or names packs that are
	// gone: a writer rewrites it ([indexLog.save]) before appending, and
	// a reader leaves it as it is.
	dirty bool
}

// logState says what load found in a log.
type logState struct {
	missing bool // no file, or an empty one
	skipped int  // damaged records
	torn    bool // an unfinished last record
	gone    int  // records of packs that are not stored
}

// load reads the log, leaving out a torn tail, damaged records and packs
// for which keep is false. It never writes: only a writing command may
// change the file ([indexLog.save]).
func (l *indexLog) load(keep func(ID) bool) (*Index, logState, error) {
	var st logState
	b, err := os.ReadFile(l.path)
	if err != nil && !os.IsNotExist(err) {
		return nil, st, fmt.Errorf("failed to read %s: %w", l.path, err)
	}
	packs, valid, skipped := parseLog(b)
	st = logState{missing: len(b) == 0, skipped: skipped, torn: valid != len(b)}
	ix := newIndex()
	for _, p := range packs {
		if keep(p.ID) {
			ix.add(p)
		} else {
			st.gone++
		}
	}
	l.mu.Lock()
	l.dirty = st.skipped > 0 || st.torn || st.gone > 0
	l.mu.Unlock()
	return ix, st, nil
}

// save rewrites the log with ix's packs if load found it dirty, so that
// what is appended next follows whole records. The caller writes.
func (l *indexLog) save(ix *Index) error {
	l.mu.Lock()
	dirty := l.dirty
	l.mu.Unlock()
	if !dirty {
		return nil
	}
	return l.rewrite(ix.Packs())
}

// append adds a pack's record and syncs the file.
func (l *indexLog) append(p PackInfo) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("failed to open index: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(appendRecord(nil, p)); err != nil {
		return fmt.Errorf("failed to append to index: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("failed to sync index: %w", err)
	}
	return nil
}

// rewrite replaces the log atomically with records for packs.
func (l *indexLog) rewrite(packs []PackInfo) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dirty = false
	return fsync.WriteAtomic(l.path, 0o600, func(w io.Writer) error {
		var buf bytes.Buffer
		for _, p := range packs {
			buf.Write(appendRecord(nil, p))
		}
		_, err := w.Write(buf.Bytes())
		return err
	})
}
