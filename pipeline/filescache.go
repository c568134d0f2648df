package pipeline

import (
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// The files cache remembers, per regular file, its metadata and the blob
// IDs of its body as of the last backup of the same kind. It lives on the
// device (it holds plaintext paths) and losing it costs one full read.
//
// It is a zstd stream of gob values: a cacheHeader, then one cachedFile per
// file in walk order. A backup merges the old cache with its walk and
// writes the new one as it goes, so it holds neither in memory.

// cacheVersion tells this layout from the single gob map of old.
const cacheVersion = 2

type cacheHeader struct {
	Version int
	Source  string
}

type cachedFile struct {
	Path               string
	Size, MTime, CTime int64
	Ino                uint64
	Blobs              []chunkstore.ID
}

func cachePath(s *chunkstore.Store, kind string) string {
	return s.Path(chunkstore.Local(path.Join("filescache", kind)))
}

// cacheReader yields the old cache's files in walk order. A nil
// cacheReader is an empty cache.
type cacheReader struct {
	f   *os.File
	zr  *zstd.Decoder
	dec *gob.Decoder
	cur cachedFile // the first file not passed yet
	ok  bool       // cur is valid
}

// openFilesCache opens the cache of kind; a missing, unreadable or foreign
// cache is an empty one (nil).
func openFilesCache(s *chunkstore.Store, kind, source string) *cacheReader {
	f, err := os.Open(cachePath(s, kind))
	if err != nil {
		return nil
	}
	zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		f.Close()
		return nil
	}
	c := &cacheReader{f: f, zr: zr, dec: gob.NewDecoder(zr)}
	var h cacheHeader
	if err := c.dec.Decode(&h); err != nil || h.Version != cacheVersion || h.Source != source {
		c.close()
		return nil
	}
	c.advance()
	return c
}

// advance reads the next file; at the end, or at a record that does not
// decode, the rest of the cache is empty.
func (c *cacheReader) advance() {
	c.cur = cachedFile{}
	c.ok = c.dec.Decode(&c.cur) == nil
}

func (c *cacheReader) close() {
	if c != nil {
		c.zr.Close()
		c.f.Close()
	}
}

// lookup returns the cached blob IDs of an unchanged file. Calls come in
// walk order. The ctime of a file immutable says is not compared: linking
// it into a staged view changes it, while size, mtime and inode still tell
// a replaced file.
func (c *cacheReader) lookup(e *entry, immutable func(rel string) bool) ([]chunkstore.ID, bool) {
	if c == nil {
		return nil, false
	}
	for c.ok && walkCompare(c.cur.Path, e.rel) < 0 {
		c.advance()
	}
	cf, st := c.cur, e.st
	if !c.ok || cf.Path != e.rel || cf.Size != st.Size || cf.MTime != st.Mtim.Nano() || cf.Ino != st.Ino {
		return nil, false
	}
	if cf.CTime != st.Ctim.Nano() && (immutable == nil || !immutable(e.rel)) {
		return nil, false
	}
	return cf.Blobs, true
}

// walkCompare orders slash-separated paths as the walk visits them:
// depth-first, each directory's names sorted bytewise.
func walkCompare(a, b string) int {
	for {
		an, arest, adeeper := strings.Cut(a, "/")
		bn, brest, bdeeper := strings.Cut(b, "/")
		if c := strings.Compare(an, bn); c != 0 {
			return c
		}
		switch {
		case !adeeper && !bdeeper:
			return 0
		case !adeeper:
			return -1 // a directory comes before what it holds
		case !bdeeper:
			return 1
		}
		a, b = arest, brest
	}
}

// cacheEntry returns what the files cache keeps of an entry, without its
// blobs.
func cacheEntry(e *entry) *cachedFile {
	st := e.st
	return &cachedFile{Path: e.rel, Size: st.Size, MTime: st.Mtim.Nano(), CTime: st.Ctim.Nano(), Ino: st.Ino}
}

// cacheWriter writes a new cache to a temporary file, which commit renames
// into place once the snapshot is saved.
type cacheWriter struct {
	path string
	f    *os.File
	zw   *zstd.Encoder
	enc  *gob.Encoder
	err  error // the first write error; nothing is written after it
}

func createFilesCache(s *chunkstore.Store, kind, source string) (*cacheWriter, error) {
	path := cachePath(s, kind)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("failed to write files cache: %w", err)
	}
	f, err := os.OpenFile(path+".tmp-cache", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("failed to write files cache: %w", err)
	}
	// A small window: the records repeat within a directory, and the
	// encoder's history is a backup's memory (2.3 MiB at 1 MiB).
	zw, err := zstd.NewWriter(f, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(256<<10), zstd.WithLowerEncoderMem(true))
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	c := &cacheWriter{path: path, f: f, zw: zw, enc: gob.NewEncoder(zw)}
	c.err = c.enc.Encode(cacheHeader{Version: cacheVersion, Source: source})
	return c, nil
}

// add appends a file with its blobs. Files come in walk order.
func (c *cacheWriter) add(f *cachedFile, blobs []chunkstore.ID) {
	if c != nil && c.err == nil {
		f.Blobs = blobs
		c.err = c.enc.Encode(f)
		f.Blobs = nil
	}
}

// commit replaces the cache of kind with the new one.
func (c *cacheWriter) commit() error {
	err := errors.Join(c.err, c.zw.Close(), c.f.Close())
	if err == nil {
		err = os.Rename(c.f.Name(), c.path)
	}
	if err != nil {
		os.Remove(c.f.Name())
		return fmt.Errorf("failed to write files cache: %w", err)
	}
	return nil
}

// discard removes the new cache unless it was committed.
func (c *cacheWriter) discard() {
	if c != nil && c.f.Close() == nil {
		os.Remove(c.f.Name())
	}
}
