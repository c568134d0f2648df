package chunkstore

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
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
// a blob that is not stored. Most of the device index lives on disk, in
// the table of indextable.go; memory holds the packs added since the table
// was last written.
type Index struct {
	mu  sync.RWMutex
	tab *table // nil: none
	// spill is where add writes a new table once the packs in memory hold
	// indexFlushAt blobs; "": the index stays in memory.
	spill  string
	packs  []PackInfo // those not in tab
	byPack map[ID]uint32
	// blobs maps the first 8 bytes of a blob ID to the blob's entry in
	// packs, the only copy of it; more holds the rare blobs whose prefix
	// another blob has. Keys of 8 bytes rather than 32 make the map about
	// a third of the size.
	blobs map[uint64]blobRef
	more  map[ID]blobRef
}

func newIndex() *Index {
	return &Index{byPack: map[ID]uint32{}, blobs: map[uint64]blobRef{}, more: map[ID]blobRef{}}
}

func idPrefix(id ID) uint64 { return binary.LittleEndian.Uint64(id[:8]) }

// find returns the blob's entry and its pack. The caller holds mu.
func (ix *Index) find(id ID) (Location, bool) {
	if r, ok := ix.tab.find(id); ok {
		return Location{Pack: ix.tab.packs[r.pack].id, BlobEntry: r.BlobEntry}, true
	}
	r, ok := ix.blobs[idPrefix(id)]
	if !ok {
		return Location{}, false
	}
	if e := ix.packs[r.pack].Blobs[r.i]; e.ID == id {
		return Location{Pack: ix.packs[r.pack].ID, BlobEntry: e}, true
	}
	if r, ok = ix.more[id]; ok {
		return Location{Pack: ix.packs[r.pack].ID, BlobEntry: ix.packs[r.pack].Blobs[r.i]}, true
	}
	return Location{}, false
}

// Has reports whether the blob is stored.
func (ix *Index) Has(id ID) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, ok := ix.find(id)
	return ok
}

// Lookup returns where the blob is stored.
func (ix *Index) Lookup(id ID) (Location, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.find(id)
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
	found := ix.tab.resolve(prefix)
	if r, ok := ix.blobs[binary.LittleEndian.Uint64(prefix[:8])]; ok {
		if e := ix.packs[r.pack].Blobs[r.i]; [PrefixSize]byte(e.ID[:PrefixSize]) == prefix {
			found = append(found, e.ID)
		}
	}
	for other := range ix.more {
		if [PrefixSize]byte(other[:PrefixSize]) == prefix {
			found = append(found, other)
		}
	}
	if len(found) == 0 {
		return ID{}, false
	}
	for _, other := range found[1:] {
		if other != found[0] {
			return ID{}, false
		}
	}
	return found[0], true
}

// empty reports whether the index holds no blob.
func (ix *Index) empty() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.blobs) == 0 && (ix.tab == nil || ix.tab.nrec == 0)
}

// HasPack reports whether the pack is indexed.
func (ix *Index) HasPack(id ID) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.tab != nil {
		if _, ok := ix.tab.byPack[id]; ok {
			return true
		}
	}
	_, ok := ix.byPack[id]
	return ok
}

// Pack returns an indexed pack.
func (ix *Index) Pack(id ID) (PackInfo, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.tab != nil {
		if i, ok := ix.tab.byPack[id]; ok {
			p, err := ix.tab.pack(i)
			return p, err == nil
		}
	}
	i, ok := ix.byPack[id]
	if !ok {
		return PackInfo{}, false
	}
	return ix.packs[i], true
}

// Packs returns every indexed pack. A pack whose blobs cannot be read
// from the table (an I/O error) comes without them; what rewrites the
// index uses [Index.eachPack], which fails instead.
func (ix *Index) Packs() []PackInfo {
	var packs []PackInfo
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.tab != nil {
		for i, d := range ix.tab.packs {
			p, err := ix.tab.pack(uint32(i))
			if err != nil {
				p = PackInfo{ID: d.id, Size: d.size}
			}
			packs = append(packs, p)
		}
	}
	return append(packs, ix.packs...)
}

// eachPack calls fn with every indexed pack, in the order they were
// added, reading those in the table one at a time. fn may use the index;
// no pack may be added meanwhile.
func (ix *Index) eachPack(fn func(PackInfo) error) error {
	ix.mu.RLock()
	tab, packs := ix.tab, ix.packs
	ix.mu.RUnlock()
	if tab != nil {
		for i := range tab.packs {
			p, err := tab.pack(uint32(i))
			if err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
		}
	}
	for _, p := range packs {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// eachBlob calls fn with the ID of every indexed blob, once each. No
// pack may be added meanwhile.
func (ix *Index) eachBlob(fn func(ID)) error {
	ix.mu.RLock()
	tab := ix.tab
	ids := make([]ID, 0, len(ix.blobs)+len(ix.more))
	for _, r := range ix.blobs {
		ids = append(ids, ix.packs[r.pack].Blobs[r.i].ID)
	}
	for id := range ix.more {
		ids = append(ids, id)
	}
	ix.mu.RUnlock()
	if err := tab.eachRec(func(r tableRec) { fn(r.ID) }); err != nil {
		return err
	}
	for _, id := range ids {
		fn(id)
	}
	return nil
}

// numPacks returns how many packs are indexed.
func (ix *Index) numPacks() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := len(ix.packs)
	if ix.tab != nil {
		n += len(ix.tab.packs)
	}
	return n
}

// tableHolds reports whether the table holds any of the packs.
func (ix *Index) tableHolds(ids []ID) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.tab != nil && slices.ContainsFunc(ids, ix.tab.hasPack)
}

// close closes the index's table. The caller no longer uses the index.
func (ix *Index) close() {
	if ix == nil {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.tab.close()
	ix.tab = nil
}

func (ix *Index) add(p PackInfo) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.byPack[p.ID]; ok {
		return
	}
	if ix.tab != nil {
		if _, ok := ix.tab.byPack[p.ID]; ok {
			return
		}
	}
	n := uint32(len(ix.packs))
	ix.packs = append(ix.packs, p)
	ix.byPack[p.ID] = n
	for i, b := range p.Blobs {
		if _, ok := ix.find(b.ID); ok {
			continue // the first pack that holds a blob is where it is read
		}
		r := blobRef{pack: n, i: uint32(i)}
		if _, taken := ix.blobs[idPrefix(b.ID)]; taken {
			ix.more[b.ID] = r
		} else {
			ix.blobs[idPrefix(b.ID)] = r
		}
	}
	if ix.spill != "" && len(ix.blobs)+len(ix.more) >= indexFlushAt {
		ix.flush()
	}
}

// flush merges the packs in memory into a new table. The caller holds mu.
// If the table cannot be written (a read-only file system), the index
// stays in memory.
func (ix *Index) flush() {
	recs := make([]tableRec, 0, len(ix.blobs)+len(ix.more))
	for _, r := range ix.blobs {
		recs = append(recs, tableRec{pack: r.pack, BlobEntry: ix.packs[r.pack].Blobs[r.i]})
	}
	for _, r := range ix.more {
		recs = append(recs, tableRec{pack: r.pack, BlobEntry: ix.packs[r.pack].Blobs[r.i]})
	}
	sortRecs(recs)
	t, err := writeTable(ix.spill, ix.tab, ix.packs, recs)
	if err != nil {
		ix.spill = ""
		return
	}
	ix.tab.close()
	ix.tab = t
	ix.packs, ix.byPack = nil, map[ID]uint32{}
	ix.blobs, ix.more = map[uint64]blobRef{}, map[ID]blobRef{}
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

// scanLog reads the records of a log of size bytes from r in order,
// calling fn with each readable one's offset and payload (valid until the
// next call; see parsePayload). A record whose checksum fails but whose length is plausible
// (bit rot in the middle of the log) is skipped, so the records after it
// survive; a record that runs past the end (a torn append after a crash)
// ends the log. It returns the length of the part of the log that was
// understood, and how many records were skipped.
func scanLog(r io.Reader, size int64, fn func(off int64, payload []byte)) (valid int64, skipped int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [4]byte
	var payload []byte
	for size-valid >= 8 {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return valid, skipped, err
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:]))
		if n < IDSize+12 || n > size-valid-8 {
			break
		}
		payload = slices.Grow(payload[:0], int(n)+4)[:n+4]
		if _, err := io.ReadFull(br, payload); err != nil {
			return valid, skipped, err
		}
		if !validPayload(payload[:n]) || crc32.Checksum(payload[:n], crcTable) != binary.LittleEndian.Uint32(payload[n:]) {
			skipped++
		} else {
			fn(valid, payload[:n])
		}
		valid += 8 + n
	}
	return valid, skipped, nil
}

// validPayload reports whether a record's payload is as long as its
// blob count says.
func validPayload(b []byte) bool {
	if len(b) < IDSize+12 {
		return false
	}
	rest := len(b) - IDSize - 12
	return int(binary.LittleEndian.Uint32(b[IDSize+8:])) == rest/trailerEntrySize && rest%trailerEntrySize == 0
}

func parsePayload(b []byte) (PackInfo, bool) {
	le := binary.LittleEndian
	var p PackInfo
	if !validPayload(b) {
		return p, false
	}
	copy(p.ID[:], b)
	p.Size = int64(le.Uint64(b[IDSize:]))
	count := int(le.Uint32(b[IDSize+8:]))
	rest := b[IDSize+12:]
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
	// table is the path of the log's table (indextable.go); "": the
	// log's index is held in memory.
	table string
	// dirty is set by load when the file holds more than its readable
	// records (a torn tail, a damaged record), names packs that are gone,
	// or lacks packs the table holds: a writer rewrites it
	// ([indexLog.save]) before appending, and a reader leaves it as it is.
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
// for which keep is false. It never writes the log: only a writing
// command may change it ([indexLog.save]). It uses the table when the
// log is whole and the table names only stored packs; the packs the table
// does not hold are read into memory, and written to a new table once
// they are many (which a read-only file system forgoes).
func (l *indexLog) load(keep func(ID) bool) (*Index, logState, error) {
	var st logState
	ix := newIndex()
	if l.table != "" {
		ix.spill = l.table
		ix.tab, _ = openTable(l.table) // a damaged table is rebuilt
		if ix.tab != nil && slices.ContainsFunc(ix.tab.packs, func(p tablePack) bool { return !keep(p.id) }) {
			ix.tab.close()
			ix.tab = nil
		}
	}
	f, err := os.Open(l.path)
	if err != nil && !os.IsNotExist(err) {
		return nil, st, fmt.Errorf("failed to read %s: %w", l.path, err)
	}
	var size int64
	tab := ix.tab // what the log is read against: add may write a table
	var pending []PackInfo
	inTable := 0
	if f != nil {
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, st, fmt.Errorf("failed to read %s: %w", l.path, err)
		}
		size = fi.Size()
		// With a table, the packs it does not hold are few; they are
		// added once the log is known to be whole.
		var offs []int64
		valid, skipped, err := scanLog(f, size, func(off int64, payload []byte) {
			id := ID(payload[:IDSize])
			switch {
			case !keep(id):
				st.gone++
			case tab != nil && tab.hasPack(id):
				inTable++
				offs = append(offs, off)
			default:
				p, _ := parsePayload(payload)
				if tab == nil {
					ix.add(p)
					return
				}
				offs = append(offs, off)
				pending = append(pending, p)
			}
		})
		if err != nil {
			return nil, st, fmt.Errorf("failed to read %s: %w", l.path, err)
		}
		st.skipped, st.torn = skipped, valid != size
		if tab != nil && st.skipped > 0 {
			// A damaged log is rebuilt from what it still says and the
			// packs (index_repair.go), as if there were no table.
			tab.close()
			tab, ix.tab, pending = nil, nil, nil
			for _, off := range offs {
				p, err := readRecord(f, off)
				if err != nil {
					return nil, st, fmt.Errorf("failed to read %s: %w", l.path, err)
				}
				ix.add(p)
			}
		}
	}
	st.missing = size == 0
	if tab != nil && st.missing {
		tab.close()
		tab, ix.tab = nil, nil
	}
	for _, p := range pending {
		ix.add(p)
	}
	l.mu.Lock()
	l.dirty = st.skipped > 0 || st.torn || st.gone > 0 || tab != nil && inTable < len(tab.packs)
	l.mu.Unlock()
	return ix, st, nil
}

// readRecord reads the log's record at off.
func readRecord(f *os.File, off int64) (PackInfo, error) {
	var hdr [4]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return PackInfo{}, err
	}
	b := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
	if _, err := f.ReadAt(b, off+4); err != nil {
		return PackInfo{}, err
	}
	p, ok := parsePayload(b)
	if !ok {
		return p, errBadTable
	}
	return p, nil
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
	return l.write(ix.eachPack)
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
	return l.write(func(fn func(PackInfo) error) error {
		for _, p := range packs {
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	})
}

// write replaces the log atomically with records for the packs each
// yields.
func (l *indexLog) write(each func(func(PackInfo) error) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dirty = false
	return fsync.WriteAtomic(l.path, 0o600, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 64<<10)
		var rec []byte
		if err := each(func(p PackInfo) error {
			rec = appendRecord(rec[:0], p)
			_, err := w.Write(rec)
			return err
		}); err != nil {
			return err
		}
		return w.Flush()
	})
}
