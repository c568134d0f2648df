package chunkstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"
)

// BlobError is returned for a blob that cannot be read back intact. Err
// tells missing ([ErrMissing]) from corrupt ([ErrCorrupt]) from a failure
// to read (anything else, e.g. I/O).
type BlobError struct {
	Blob ID
	Pack ID // zero if the blob is not in the index
	Err  error
}

func (e *BlobError) Error() string {
	if e.Pack == (ID{}) {
		return fmt.Sprintf("blob %s: %v", e.Blob, e.Err)
	}
	return fmt.Sprintf("blob %s in pack %s: %v", e.Blob, e.Pack, e.Err)
}

func (e *BlobError) Unwrap() error { return e.Err }

// Sentinel causes of a [BlobError] or an object check failure.
var (
	ErrMissing = errors.New("missing")
	ErrCorrupt = errors.New("corrupt")
)

// ReadBlob returns the plaintext of a blob, appended to dst, after checking
// the pack's authentication (age), the frame and the blob's keyed ID. It
// needs the identity for an encrypted repository. It is safe for
// concurrent use.
func (s *Store) ReadBlob(id ID, dst []byte) ([]byte, error) {
	_, plain, err := s.ReadFrame(id, nil, dst)
	return plain, err
}

// ReadFrame is ReadBlob that also returns the blob's stored zstd frame,
// verified the same way: for writing a .tar.zst without recompressing. The
// frame is read into frame's storage when it has the capacity, so that a
// caller reading many blobs can reuse its buffers.
func (s *Store) ReadFrame(id ID, frame, dst []byte) (stored, plain []byte, err error) {
	ix, err := s.Index()
	if err != nil {
		return nil, nil, err
	}
	keys, err := s.Keys()
	if err != nil {
		return nil, nil, err
	}
	loc, ok := ix.Lookup(id)
	if !ok {
		return nil, nil, &BlobError{Blob: id, Err: s.missing(id)}
	}
	frame = slices.Grow(frame[:0], int(loc.Length))[:loc.Length]
	out, err := s.readVerified(keys, id, loc, frame, dst)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongIdentity) {
			return nil, nil, &BlobError{Blob: id, Pack: loc.Pack, Err: err}
		}
		// Say what is wrong with the pack, if it is not the one written
		// under its name. Issue 17.6: a damaged age header reads as a
		// wrong identity, and bytes appended or cut off as a broken last
		// chunk; the stored bytes and size say which.
		if perr := s.packs.check(loc.Pack); errors.Is(perr, ErrCorrupt) {
			err = perr
		}
		info, _ := ix.Pack(loc.Pack)
		var herr *PackError
		if !errors.Is(err, ErrCorrupt) && errors.As(s.VerifyPackSize(loc.Pack, info.Size), &herr) && errors.Is(herr, ErrCorrupt) {
			err = herr.Err
		} else if fi, serr := fs.Stat(s.fsys, PackName(loc.Pack)); serr == nil && info.Size > 0 && fi.Size() != info.Size {
			err = sizeDamage(err, fi.Size(), info.Size)
		}
		return nil, nil, &BlobError{Blob: id, Pack: loc.Pack, Err: err}
	}
	return frame, out, nil
}

// readVerified reads a blob's frame into frame, and appends its plaintext
// to dst once the plaintext matches the blob's length and keyed ID.
func (s *Store) readVerified(keys *Keys, id ID, loc Location, frame, dst []byte) ([]byte, error) {
	if err := s.packs.readAt(loc.Pack, frame, int64(loc.Offset)); err != nil {
		return nil, err
	}
	start := len(dst)
	out, err := s.dec.DecodeAll(frame, dst)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(out)-start != int(loc.RawLength) || keys.BlobID(out[start:]) != id {
		return nil, fmt.Errorf("%w: content does not match its ID", ErrCorrupt)
	}
	return out, nil
}

// missing tells why a blob is not in the index.
func (s *Store) missing(id ID) error {
	if _, adopted, err := s.loadRemote(); err == nil && adopted.Has(id) {
		return fmt.Errorf("%w: %w", ErrMissing, ErrRemoteOnly)
	}
	return ErrMissing
}

// packTrailer reads the blob table of a pack.
func (s *Store) packTrailer(id ID) ([]BlobEntry, error) {
	h, err := s.packs.acquire(id)
	if err != nil {
		return nil, err
	}
	defer s.packs.release(h)
	entries, err := readTrailer(h.ra, h.size)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", id, errors.Join(ErrCorrupt, err))
	}
	return entries, nil
}

// packCache keeps recently used packs open, so that reading consecutive
// blobs does not unwrap the pack's key (an X25519 operation) every time.
// When a blob read from a pack fails verification, the pack's stored
// bytes are checked against its name, once per pack: the keyed blob IDs
// already make any substitution fail, but a pack swapped with another or
// replaced under a real pack's name is then reported as what it is. With
// the device's index, packs that serve their blobs intact are not hashed:
// a restore would read every pack twice for nothing the blob IDs and the
// index's pack of each blob do not already prove. A pack indexed from its
// own trailer or sealed table (hashFirst), which cannot tell a pack stored
// under another's name, is hashed before its first read.
type packCache struct {
	s        *Store
	max      int
	mu       sync.Mutex
	m        map[ID]*packHandle
	seq      uint64
	verified map[ID]bool
	// hashFirst holds the packs indexed from their own trailers or
	// sealed tables, set before the first read: each is hashed before
	// its first read.
	hashFirst map[ID]bool
}

type packHandle struct {
	id      ID
	f       fs.File
	raw     io.ReaderAt // the stored bytes
	ra      io.ReaderAt // the plaintext
	size    int64       // of the plaintext
	stored  int64
	refs    int
	used    uint64
	evicted bool

	verifyOnce sync.Once
	verifyErr  error

	winMu  sync.Mutex
	win    []byte // the plaintext at winOff
	winOff int64
}

func newPackCache(s *Store, max int) *packCache {
	return &packCache{s: s, max: max, m: map[ID]*packHandle{}, verified: map[ID]bool{}}
}

func (c *packCache) readAt(id ID, p []byte, off int64) error {
	h, err := c.acquire(id)
	if err != nil {
		return err
	}
	defer c.release(h)
	if c.hashFirst[id] {
		if err := c.verify(h); err != nil {
			return err
		}
	}
	if off+int64(len(p)) > h.size {
		return fmt.Errorf("%w: range %d+%d beyond the pack's %d bytes", ErrCorrupt, off, len(p), h.size)
	}
	if err := h.readAt(p, off); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

// windowSize is how much of a pack's plaintext a small read decrypts at
// once. Blobs are read mostly in the order they were packed, and each
// call to age's ReaderAt allocates and decrypts whole 64 KiB chunks, so
// reading a restore's many small blobs (headers, small files) one call
// each cost more in allocation than in decryption.
const windowSize = 128 << 10

// readAt reads the pack's plaintext at off: a large read directly, a small
// one through the handle's window.
func (h *packHandle) readAt(p []byte, off int64) error {
	if len(p) >= windowSize {
		return readFullAt(h.ra, p, off)
	}
	h.winMu.Lock()
	defer h.winMu.Unlock()
	if off < h.winOff || off+int64(len(p)) > h.winOff+int64(len(h.win)) {
		h.win = slices.Grow(h.win[:0], windowSize)[:min(windowSize, h.size-off)]
		if err := readFullAt(h.ra, h.win, off); err != nil {
			h.win = h.win[:0]
			return err
		}
		h.winOff = off
	}
	copy(p, h.win[off-h.winOff:])
	return nil
}

// check verifies that a pack's stored bytes hash to its name.
func (c *packCache) check(id ID) error {
	h, err := c.acquire(id)
	if err != nil {
		return err
	}
	defer c.release(h)
	return c.verify(h)
}

// verify checks that the pack's stored bytes hash to its name, unless
// that was done already since the store was opened.
func (c *packCache) verify(h *packHandle) error {
	if c.s.ReadOnly() {
		// Read by range from elsewhere (a bucket): hashing would fetch
		// every pack whole. The keyed blob IDs still authenticate every
		// blob read; a pack stored under another's name then only moves
		// blobs that are found through its own trailer.
		return nil
	}
	h.verifyOnce.Do(func() {
		c.mu.Lock()
		done := c.verified[h.id]
		c.mu.Unlock()
		if done {
			return
		}
		if h.verifyErr = checkPackHash(io.NewSectionReader(h.raw, 0, h.stored), h.id); h.verifyErr == nil {
			c.mu.Lock()
			c.verified[h.id] = true
			c.mu.Unlock()
		}
	})
	return h.verifyErr
}

func (c *packCache) acquire(id ID) (*packHandle, error) {
	c.mu.Lock()
	c.seq++
	if h, ok := c.m[id]; ok {
		h.refs++
		h.used = c.seq
		c.mu.Unlock()
		return h, nil
	}
	c.mu.Unlock()

	h, err := c.open(id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[id]; ok {
		h.f.Close()
		old.refs++
		return old, nil
	}
	h.refs, h.used = 1, c.seq
	c.m[id] = h
	c.evictLocked()
	return h, nil
}

func (c *packCache) open(id ID) (*packHandle, error) {
	f, err := c.s.fsys.Open(PackName(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrMissing
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	fra, ok := f.(io.ReaderAt)
	if !ok {
		f.Close()
		return nil, fmt.Errorf("%s cannot be read by range", PackName(id))
	}
	size := fi.Size()
	if c.s.cfg.Version >= 2 {
		tk, err := c.s.packTableKeys()
		if err != nil {
			f.Close()
			return nil, err
		}
		if size, err = tk.payloadSize(fra, size); err != nil {
			f.Close()
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	ra, size, err := c.s.codec.OpenAt(fra, size)
	if err != nil {
		f.Close()
		if errors.Is(err, ErrNoIdentity) || errors.Is(err, ErrWrongIdentity) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &packHandle{id: id, f: f, raw: fra, ra: ra, size: size, stored: fi.Size()}, nil
}

func (c *packCache) release(h *packHandle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h.refs--
	if h.evicted && h.refs == 0 {
		h.f.Close()
	}
}

// evictLocked closes the least recently used packs beyond the limit.
func (c *packCache) evictLocked() {
	for len(c.m) > c.max {
		var lru *packHandle
		for _, h := range c.m {
			if lru == nil || h.used < lru.used {
				lru = h
			}
		}
		delete(c.m, lru.id)
		lru.evicted = true
		if lru.refs == 0 {
			lru.f.Close()
		}
	}
}

func (c *packCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, h := range c.m {
		delete(c.m, id)
		h.evicted = true
		if h.refs == 0 {
			h.f.Close()
		}
	}
}
