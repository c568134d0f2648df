package chunkstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"sort"
	"sync"

	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// The device index's table (local/index.table) holds the blob locations
// of most of the indexed packs on disk, so that the index's memory does
// not grow with the repository: a phone backing up a large tree cannot
// spare 80 bytes of heap per blob. It is a cache of the log
// (local/index), like the log is of the packs' blob tables: a table that
// is missing, damaged, or names a pack that is not stored is ignored, and
// the index is rebuilt from the log, and the log from the packs.
//
// Layout, little endian:
//
//	header    one page: magic, record count, pack count, offsets of the
//	          packs section and the pack directory
//	records   pages of tablePerPage records sorted by blob ID, each
//	          blob ID, pack number, offset, length, raw length (48 bytes)
//	          and zero padding to the page's end
//	packs     per pack in pack-number order: its blob table as in the log
//	          (pack ID, stored size, blob count, the blobs)
//	directory per pack: pack ID, stored size, blob count, offset of its
//	          entry in the packs section (52 bytes)
//	checksum  CRC-32C of everything before it
//
// Memory holds the pack directory and the first blob ID of every page (a
// fence): about 0.4 bytes per blob and 90 per pack. A lookup is a binary
// search of the fences and one page read, which the page cache serves.
// Packs added after the table was written stay in memory until they hold
// [indexFlushAt] blobs; then the table and they are merged into a new
// table, written with [fsync.WriteAtomic] so a crash leaves the old one.
// Fixed-size records in whole pages need no sparse files and no renames
// over open files beyond that one, so the table works on FAT (an SD card).
//
// Why not a library: the candidates that are small and well kept are
// B-trees that map their file (bbolt) or log-structured stores with
// compactions, background goroutines and many files (pebble, badger).
// Mapped pages touched by lookups count in the process's resident set,
// which is what a phone's low-memory killer and this index's goal
// measure; and the index is written once per few thousand blobs and read
// at random, which a sorted file merged in one pass serves with a few
// hundred lines and no new dependency.
const (
	tablePage       = 4096
	tableRecordSize = IDSize + 16
	tablePerPage    = tablePage / tableRecordSize
	tableDirSize    = IDSize + 20
	tableMagic      = "psindex1"
)

// indexFlushAt is how many blobs of packs not in the table the index
// holds in memory before it merges them into the table: about 2.5 MiB.
var indexFlushAt = 1 << 15

var errBadTable = errors.New("damaged index table")

// tableRec is one record of the table.
type tableRec struct {
	pack uint32
	BlobEntry
}

func putRec(b []byte, r tableRec) {
	copy(b, r.ID[:])
	le := binary.LittleEndian
	le.PutUint32(b[IDSize:], r.pack)
	le.PutUint32(b[IDSize+4:], r.Offset)
	le.PutUint32(b[IDSize+8:], r.Length)
	le.PutUint32(b[IDSize+12:], r.RawLength)
}

func getRec(b []byte) tableRec {
	le := binary.LittleEndian
	r := tableRec{pack: le.Uint32(b[IDSize:])}
	copy(r.ID[:], b)
	r.Offset, r.Length, r.RawLength = le.Uint32(b[IDSize+4:]), le.Uint32(b[IDSize+8:]), le.Uint32(b[IDSize+12:])
	return r
}

// tablePack is a pack of the table's directory.
type tablePack struct {
	id    ID
	size  int64
	count uint32
	off   int64 // of its entry in the packs section
}

// table is an open, immutable index table.
type table struct {
	f      *os.File
	nrec   int
	fences []ID // the first blob ID of each page
	packs  []tablePack
	byPack map[ID]uint32
}

var pagePool = sync.Pool{New: func() any { return new([tablePage]byte) }}

func (t *table) close() {
	if t != nil {
		t.f.Close()
	}
}

func (t *table) pages() int { return (t.nrec + tablePerPage - 1) / tablePerPage }

// page reads page p of the records into buf.
func (t *table) page(p int, buf *[tablePage]byte) error {
	if _, err := t.f.ReadAt(buf[:], int64(tablePage*(1+p))); err != nil {
		return fmt.Errorf("failed to read %s: %w", t.f.Name(), err)
	}
	return nil
}

// seek returns the first record whose ID is not less than id, and the
// one after it; n says how many of the two exist.
func (t *table) seek(id ID) (recs [2]tableRec, n int, err error) {
	p := sort.Search(len(t.fences), func(i int) bool { return bytes.Compare(t.fences[i][:], id[:]) > 0 }) - 1
	p = max(p, 0)
	buf := pagePool.Get().(*[tablePage]byte)
	defer pagePool.Put(buf)
	for ; p < t.pages() && n < 2; p++ {
		if err := t.page(p, buf); err != nil {
			return recs, 0, err
		}
		in := min(tablePerPage, t.nrec-p*tablePerPage)
		i := 0
		if n == 0 {
			i = sort.Search(in, func(i int) bool {
				return bytes.Compare(buf[i*tableRecordSize:i*tableRecordSize+IDSize], id[:]) >= 0
			})
		}
		for ; i < in && n < 2; i++ {
			recs[n] = getRec(buf[i*tableRecordSize:])
			n++
		}
	}
	return recs, n, nil
}

// find returns the blob's record.
func (t *table) find(id ID) (tableRec, bool) {
	if t == nil || t.nrec == 0 {
		return tableRec{}, false
	}
	recs, n, err := t.seek(id)
	// A read error is a miss: a backup then stores the blob again, and
	// a restore says which blob it cannot find.
	if err != nil || n == 0 || recs[0].ID != id {
		return tableRec{}, false
	}
	return recs[0], true
}

// resolve returns the blobs whose IDs begin with prefix: at most two.
func (t *table) resolve(prefix [PrefixSize]byte) []ID {
	if t == nil || t.nrec == 0 {
		return nil
	}
	var key ID
	copy(key[:], prefix[:])
	recs, n, err := t.seek(key)
	if err != nil {
		return nil
	}
	var ids []ID
	for _, r := range recs[:n] {
		if [PrefixSize]byte(r.ID[:PrefixSize]) == prefix {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// pack reads the blob table of the table's pack i.
func (t *table) pack(i uint32) (PackInfo, error) {
	d := t.packs[i]
	b := make([]byte, IDSize+12+int(d.count)*trailerEntrySize)
	if _, err := t.f.ReadAt(b, d.off); err != nil {
		return PackInfo{}, fmt.Errorf("failed to read %s: %w", t.f.Name(), err)
	}
	p, ok := parsePayload(b)
	if !ok || p.ID != d.id {
		return PackInfo{}, fmt.Errorf("%s: %w", t.f.Name(), errBadTable)
	}
	return p, nil
}

// openTable opens and verifies a table; a missing one is (nil, nil).
func openTable(path string) (*table, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := readTable(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func readTable(f *os.File) (*table, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	var h [40]byte
	if size < tablePage+4 {
		return nil, errBadTable
	}
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	nrec, npacks := le.Uint64(h[8:]), le.Uint64(h[16:])
	packsOff, dirOff := int64(le.Uint64(h[24:])), int64(le.Uint64(h[32:]))
	t := &table{f: f, nrec: int(nrec)}
	if string(h[:8]) != tableMagic || nrec > uint64(size) || npacks > uint64(size) ||
		packsOff != int64(tablePage*(1+t.pages())) || dirOff < packsOff || dirOff+int64(npacks)*tableDirSize+4 != size {
		return nil, errBadTable
	}
	// One pass checks the sum and collects the fences.
	t.fences = make([]ID, 0, t.pages())
	crc := uint32(0)
	buf := make([]byte, 16*tablePage)
	r := io.NewSectionReader(f, 0, size-4)
	for off := int64(0); ; {
		n, err := io.ReadFull(r, buf)
		crc = crc32.Update(crc, crcTable, buf[:n])
		for p := off; p < off+int64(n); p += tablePage {
			if p >= tablePage && p < packsOff {
				t.fences = append(t.fences, ID(buf[p-off:p-off+IDSize]))
			}
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	var sum [4]byte
	if _, err := f.ReadAt(sum[:], size-4); err != nil {
		return nil, err
	}
	if le.Uint32(sum[:]) != crc {
		return nil, errBadTable
	}
	dir := make([]byte, npacks*tableDirSize)
	if _, err := f.ReadAt(dir, dirOff); err != nil {
		return nil, err
	}
	t.packs = make([]tablePack, npacks)
	t.byPack = make(map[ID]uint32, npacks)
	for i := range t.packs {
		d := dir[i*tableDirSize:]
		p := tablePack{id: ID(d[:IDSize]), size: int64(le.Uint64(d[IDSize:])), count: le.Uint32(d[IDSize+8:]), off: int64(le.Uint64(d[IDSize+12:]))}
		if p.off < packsOff || p.off+IDSize+12+int64(p.count)*trailerEntrySize > dirOff {
			return nil, errBadTable
		}
		t.packs[i] = p
		t.byPack[p.id] = uint32(i)
	}
	return t, nil
}

// writeTable writes to path a table of old's packs and records followed
// by packs, whose blobs not in old are recs (sorted by ID, their pack
// numbers counted from the first of packs), and opens it.
func writeTable(path string, old *table, packs []PackInfo, recs []tableRec) (*table, error) {
	var oldRecs int
	var oldPacks []tablePack
	if old != nil {
		oldRecs, oldPacks = old.nrec, old.packs
	}
	base := uint32(len(oldPacks))
	t := &table{nrec: oldRecs + len(recs)}
	packsOff := int64(tablePage * (1 + t.pages()))
	dirOff := packsOff
	for _, p := range oldPacks {
		t.packs = append(t.packs, tablePack{id: p.id, size: p.size, count: p.count, off: dirOff})
		dirOff += IDSize + 12 + int64(p.count)*trailerEntrySize
	}
	oldSize := dirOff - packsOff
	for _, p := range packs {
		t.packs = append(t.packs, tablePack{id: p.ID, size: p.Size, count: uint32(len(p.Blobs)), off: dirOff})
		dirOff += IDSize + 12 + int64(len(p.Blobs))*trailerEntrySize
	}
	t.fences = make([]ID, 0, t.pages())
	err := fsync.WriteAtomic(path, 0o600, func(f io.Writer) error {
		crc := crc32.New(crcTable)
		w := bufio.NewWriterSize(io.MultiWriter(f, crc), 16*tablePage)
		var page [tablePage]byte
		le := binary.LittleEndian
		copy(page[:], tableMagic)
		le.PutUint64(page[8:], uint64(t.nrec))
		le.PutUint64(page[16:], uint64(len(t.packs)))
		le.PutUint64(page[24:], uint64(packsOff))
		le.PutUint64(page[32:], uint64(dirOff))
		w.Write(page[:])
		clear(page[:])
		i := 0 // records in page
		emit := func(r tableRec) {
			if i == 0 {
				t.fences = append(t.fences, r.ID)
			}
			putRec(page[i*tableRecordSize:], r)
			if i++; i == tablePerPage {
				w.Write(page[:])
				clear(page[:])
				i = 0
			}
		}
		if err := mergeRecs(old, recs, base, emit); err != nil {
			return err
		}
		if i > 0 {
			w.Write(page[:])
		}
		if oldSize > 0 {
			if _, err := io.Copy(w, io.NewSectionReader(old.f, oldPacks[0].off, oldSize)); err != nil {
				return fmt.Errorf("failed to read %s: %w", old.f.Name(), err)
			}
		}
		for _, p := range packs {
			payload := appendRecord(nil, p)
			w.Write(payload[4 : len(payload)-4])
		}
		var d [tableDirSize]byte
		for _, p := range t.packs {
			copy(d[:], p.id[:])
			le.PutUint64(d[IDSize:], uint64(p.size))
			le.PutUint32(d[IDSize+8:], p.count)
			le.PutUint64(d[IDSize+12:], uint64(p.off))
			w.Write(d[:])
		}
		if err := w.Flush(); err != nil {
			return err
		}
		_, err := f.Write(le.AppendUint32(nil, crc.Sum32()))
		return err
	})
	if err != nil {
		return nil, err
	}
	if t.f, err = os.Open(path); err != nil {
		return nil, err
	}
	t.byPack = make(map[ID]uint32, len(t.packs))
	for i, p := range t.packs {
		t.byPack[p.id] = uint32(i)
	}
	return t, nil
}

// mergeRecs emits old's records and recs (pack numbers shifted by base)
// in ID order.
func mergeRecs(old *table, recs []tableRec, base uint32, emit func(tableRec)) error {
	j := 0
	err := old.eachRec(func(r tableRec) {
		for ; j < len(recs) && bytes.Compare(recs[j].ID[:], r.ID[:]) < 0; j++ {
			emit(shift(recs[j], base))
		}
		emit(r)
	})
	if err != nil {
		return err
	}
	for ; j < len(recs); j++ {
		emit(shift(recs[j], base))
	}
	return nil
}

// eachRec calls fn with every record of the table, in ID order.
func (t *table) eachRec(fn func(tableRec)) error {
	if t == nil {
		return nil
	}
	buf := pagePool.Get().(*[tablePage]byte)
	defer pagePool.Put(buf)
	for p := 0; p < t.pages(); p++ {
		if err := t.page(p, buf); err != nil {
			return err
		}
		for i := range min(tablePerPage, t.nrec-p*tablePerPage) {
			fn(getRec(buf[i*tableRecordSize:]))
		}
	}
	return nil
}

func shift(r tableRec, base uint32) tableRec {
	r.pack += base
	return r
}

// sortRecs sorts records by blob ID.
func sortRecs(recs []tableRec) {
	slices.SortFunc(recs, func(a, b tableRec) int { return bytes.Compare(a.ID[:], b.ID[:]) })
}

// hasPack reports whether the table holds the pack.
func (t *table) hasPack(id ID) bool {
	_, ok := t.byPack[id]
	return ok
}
