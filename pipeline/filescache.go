package pipeline

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// filesCache remembers, per path, the metadata of a regular file and the
// blob IDs of its body as of the last backup of the same kind. It lives on
// the device (it holds plaintext paths) and losing it costs one full read.
type filesCache struct {
	Source string
	Files  map[string]cachedFile
}

type cachedFile struct {
	Size, MTime, CTime int64
	Ino                uint64
	Blobs              []chunkstore.ID
}

func cachePath(s *chunkstore.Store, kind string) string {
	return s.Path(filepath.Join("local", "filescache", kind))
}

// loadFilesCache reads the cache of kind; a missing, unreadable or foreign
// cache is an empty one.
func loadFilesCache(s *chunkstore.Store, kind, source string) *filesCache {
	empty := &filesCache{Source: source, Files: map[string]cachedFile{}}
	f, err := os.Open(cachePath(s, kind))
	if err != nil {
		return empty
	}
	defer f.Close()
	zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return empty
	}
	defer zr.Close()
	var c filesCache
	if err := gob.NewDecoder(zr).Decode(&c); err != nil || c.Source != source || c.Files == nil {
		return empty
	}
	return &c
}

// save replaces the cache of kind atomically.
func (c *filesCache) save(s *chunkstore.Store, kind string) error {
	path := cachePath(s, kind)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp-cache"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("failed to write files cache: %w", err)
	}
	err = writeCache(f, c)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("failed to write files cache: %w", err)
	}
	return nil
}

func writeCache(w io.Writer, c *filesCache) error {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return err
	}
	return errors.Join(gob.NewEncoder(zw).Encode(c), zw.Close())
}

// lookup returns the cached blob IDs of an unchanged file. The ctime of
// a file immutable says is not compared: linking it into a staged view
// changes it, while size, mtime and inode still tell a replaced file.
func (c *filesCache) lookup(e *entry, immutable func(rel string) bool) ([]chunkstore.ID, bool) {
	cf, ok := c.Files[e.rel]
	st := e.st
	if !ok || cf.Size != st.Size || cf.MTime != st.Mtim.Nano() || cf.Ino != st.Ino {
		return nil, false
	}
	if cf.CTime != st.Ctim.Nano() && (immutable == nil || !immutable(e.rel)) {
		return nil, false
	}
	return cf.Blobs, true
}

// cacheEntry returns what the files cache keeps of an entry, without its
// blobs.
func cacheEntry(e *entry) cachedFile {
	st := e.st
	return cachedFile{Size: st.Size, MTime: st.Mtim.Nano(), CTime: st.Ctim.Nano(), Ino: st.Ino}
}

func (c *filesCache) remember(path string, f cachedFile, blobs []chunkstore.ID) {
	f.Blobs = blobs
	c.Files[path] = f
}
