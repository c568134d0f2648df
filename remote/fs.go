package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// Read granularity: objects are fetched in aligned blocks, a missing run
// of blocks in one ranged GET, with a little read-ahead because readers
// (age's STREAM) ask for one 64 KiB chunk at a time.
const (
	blockSize = 256 << 10
	readAhead = 3 // blocks
)

// FS is a read-only file system over the bucket's objects as one listing
// found them: the repository seen from the bucket, for
// chunkstore.OpenFS. It implements fs.ReadDirFS and fs.StatFS; its files
// implement io.ReaderAt. Reads are ranged GETs of the blocks they need;
// blocks are kept in a bounded cache, so a range read twice (neighbouring
// blobs share a block) is fetched once while the cache holds it.
//
// The fs.FS and io.ReaderAt methods take no context, and an FS stores
// none: each GET gets a context of its own, cancelled when the FS is
// aborted, which the end of the context given to [Bucket.FS] or Close
// does.
type FS struct {
	b       *Bucket
	objects map[string]int64
	cache   *ristretto.Cache[string, []byte]

	// aborted is closed, with cause set, when reads must stop.
	aborted   chan struct{}
	abortOnce sync.Once
	cause     error
	// unwatch stops watching the context given to Bucket.FS.
	unwatch func() bool

	requests, fetched atomic.Int64
}

// errClosed is the cause of the reads cut short by Close.
var errClosed = errors.New("the bucket's file system is closed")

// FS lists the bucket and returns a file system over what it holds.
// cacheBytes bounds the block cache (0: 32 MiB). The end of ctx stops
// every read, as Close does.
func (b *Bucket) FS(ctx context.Context, cacheBytes int64) (*FS, error) {
	objects, err := b.List(ctx)
	if err != nil {
		return nil, err
	}
	f, err := b.fsOf(objects, cacheBytes)
	if err != nil {
		return nil, err
	}
	f.unwatch = context.AfterFunc(ctx, func() { f.abort(context.Cause(ctx)) })
	return f, nil
}

// abort stops the reads in flight and fails the later ones with cause.
func (f *FS) abort(cause error) {
	f.abortOnce.Do(func() {
		f.cause = cause
		close(f.aborted)
	})
}

// readRange fetches length bytes of the object name from off, with a
// context that ends when f is aborted.
func (f *FS) readRange(name string, off, length int64) ([]byte, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-f.aborted:
			cancel()
		case <-ctx.Done():
		}
	}()
	data, err := f.b.ReadRange(ctx, name, off, length)
	select {
	case <-f.aborted:
		if err != nil && !errors.Is(err, f.cause) {
			err = fmt.Errorf("%w (%w)", err, f.cause)
		}
	default:
	}
	return data, err
}

func (b *Bucket) fsOf(objects map[string]int64, cacheBytes int64) (*FS, error) {
	if cacheBytes <= 0 {
		cacheBytes = 32 << 20
	}
	cache, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
		NumCounters:        10 * cacheBytes / blockSize,
		MaxCost:            cacheBytes,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, err
	}
	return &FS{b: b, objects: objects, cache: cache, aborted: make(chan struct{}), unwatch: func() bool { return false }}, nil
}

// String names the bucket, for messages.
func (f *FS) String() string { return f.b.String() }

// Close stops the reads in flight and releases the cache.
func (f *FS) Close() {
	f.unwatch()
	f.abort(errClosed)
	f.cache.Close()
}

// Listing returns the objects the listing found, by name, with their
// sizes. The caller must not modify it.
func (f *FS) Listing() map[string]int64 { return f.objects }

// Fetched reports the ranged GETs made and the bytes they fetched.
func (f *FS) Fetched() (requests, bytes int64) { return f.requests.Load(), f.fetched.Load() }

// Open opens an object, or a directory (a prefix of some objects).
func (f *FS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if size, ok := f.objects[name]; ok {
		return &file{fs: f, name: name, size: size}, nil
	}
	ents, err := f.ReadDir(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &dir{info: dirInfo(name), ents: ents}, nil
}

// Stat describes an object or directory.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	file, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	return file.Stat()
}

// ReadDir lists a directory's entries, sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	pfx := ""
	if name != "." {
		pfx = name + "/"
	}
	seen := map[string]fs.DirEntry{}
	for obj, size := range f.objects {
		rest, ok := strings.CutPrefix(obj, pfx)
		if !ok || rest == "" {
			continue
		}
		if child, _, isDir := strings.Cut(rest, "/"); isDir {
			seen[child] = fs.FileInfoToDirEntry(dirInfo(child))
		} else {
			seen[child] = fs.FileInfoToDirEntry(fileInfo{name: child, size: size})
		}
	}
	if len(seen) == 0 && name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return slices.SortedFunc(maps.Values(seen), func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) }), nil
}

// file is an object opened for reading.
type file struct {
	fs   *FS
	name string
	size int64
	pos  int64

	// last is the run of blocks fetched last, from block first: the
	// shared cache may drop or not yet hold them, and the next read most
	// likely wants them.
	mu    sync.Mutex
	first int64
	last  []byte
}

func (o *file) Stat() (fs.FileInfo, error) {
	return fileInfo{name: path.Base(o.name), size: o.size}, nil
}

func (o *file) Close() error { return nil }

func (o *file) Read(p []byte) (int, error) {
	n, err := o.ReadAt(p, o.pos)
	o.pos += int64(n)
	return n, err
}

// ReadAt reads from the cached blocks, fetching the missing ones.
func (o *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: o.name, Err: fs.ErrInvalid}
	}
	if off >= o.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off < o.size {
		blk, err := o.block(off / blockSize)
		if err != nil {
			return n, err
		}
		c := copy(p[n:], blk[off%blockSize:])
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (o *file) blockKey(i int64) string { return fmt.Sprintf("%s#%d", o.name, i) }

// block returns block i, fetching it and up to readAhead following blocks
// that are not cached with one ranged GET.
func (o *file) block(i int64) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if off := (i - o.first) * blockSize; o.last != nil && off >= 0 && off < int64(len(o.last)) {
		return o.last[off:min(off+blockSize, int64(len(o.last)))], nil
	}
	if b, ok := o.fs.cache.Get(o.blockKey(i)); ok {
		return b, nil
	}
	last := (o.size - 1) / blockSize
	end := i
	for end < last && end-i < readAhead {
		if _, ok := o.fs.cache.Get(o.blockKey(end + 1)); ok {
			break
		}
		end++
	}
	from, to := i*blockSize, min((end+1)*blockSize, o.size)
	data, err := o.fs.readRange(o.name, from, to-from)
	if err != nil {
		return nil, err
	}
	o.fs.requests.Add(1)
	o.fs.fetched.Add(int64(len(data)))
	o.first, o.last = i, data
	for j := i; j <= end; j++ {
		blk := data[(j-i)*blockSize : min((j-i+1)*blockSize, int64(len(data)))]
		o.fs.cache.Set(o.blockKey(j), blk, int64(len(blk)))
	}
	// The cache applies sets asynchronously: make these visible to the
	// reads that come back to them (a pack reopened after the handle
	// cache let it go reads its header and last chunk again).
	o.fs.cache.Wait()
	return data[:min(blockSize, len(data))], nil
}

// dir is a directory opened for reading its entries.
type dir struct {
	info fs.FileInfo
	ents []fs.DirEntry
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dir) Close() error               { return nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: fs.ErrInvalid}
}

// ReadDir returns the next n entries (all with n <= 0).
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		ents := d.ents
		d.ents = nil
		return ents, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.ents))
	ents := d.ents[:n]
	d.ents = d.ents[n:]
	return ents, nil
}

type fileInfo struct {
	name string
	size int64
	dir  bool
}

func dirInfo(name string) fileInfo { return fileInfo{name: path.Base(name), dir: true} }

func (i fileInfo) Name() string { return i.name }
func (i fileInfo) Size() int64  { return i.size }
func (i fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return i.dir }
func (i fileInfo) Sys() any           { return nil }
