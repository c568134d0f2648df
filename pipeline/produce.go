package pipeline

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/restic/chunker"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// producer state lives in backup; these methods run on one goroutine.

func (b *backup) produce(ctx context.Context, emit func(*job) error) error {
	ch := b.s.Config().Chunking
	b.chunker = chunker.NewWithBoundaries(nil, b.keys.Polynomial, uint(ch.MinSize), uint(ch.MaxSize))
	wk := &walker{
		links:    map[inodeKey]string{},
		exclude:  excluded(b.opt.Exclude),
		skipName: b.opt.SkipName,
		grafts:   b.opt.Grafts,
		warn:     func(path string, err error) { b.warn(path, err, true) },
		skipped:  func(rel string) { b.skipped = append(b.skipped, rel) },
		visit: func(e *entry) error {
			if err := context.Cause(ctx); err != nil {
				return err
			}
			return b.entry(e, emit)
		},
	}
	if err := wk.walk(b.opt.dir()); err != nil {
		return err
	}
	if b.opt.Release != nil {
		down, err := b.opt.Release()
		if err != nil {
			return err
		}
		b.opt.Downtime = down
	}
	b.streamOff += int64(len(trailer))
	return emit(&job{class: chunkstore.ClassMeta, data: trailer, size: len(trailer)})
}

// entry emits one entry: its header piece, then its body pieces.
func (b *backup) entry(e *entry, emit func(*job) error) error {
	xattr, err := xattrs(e.abs)
	if err != nil {
		b.warn(e.rel, fmt.Errorf("extended attributes not saved: %w", err), true)
	}
	h, err := tarHeader(e, xattr, b.opt.Root)
	if err != nil {
		b.warn(e.rel, err, true)
		return nil
	}
	if h.Typeflag == tar.TypeSymlink {
		if h.Linkname, err = readlink(e); err != nil {
			b.warn(e.rel, err, true)
			return nil
		}
	}
	var body func(emit func(*job) error) (int, error)
	if h.Typeflag == tar.TypeReg && h.Size > 0 {
		if body, err = b.body(e); err != nil {
			b.warn(e.rel, err, true)
			return nil
		}
	}
	hdr, err := renderHeader(h)
	if err != nil {
		b.warn(e.rel, err, true)
		return nil
	}
	fi := indexEntry(h, b.opt.Root)
	fi.Offset, fi.Piece, fi.Pieces = b.streamOff, b.seq, 1
	if err := b.emit(emit, &job{class: chunkstore.ClassMeta, data: hdr, size: len(hdr)}); err != nil {
		return err
	}
	b.counts.Entries++
	b.opt.Progress.Entries.Add(1)
	if h.Typeflag == tar.TypeReg {
		// Issue 18.19: empty files too, as ls and restore count them.
		b.counts.Files++
		if h.Size == 0 {
			b.counts.FilesEmpty++
		}
	}
	if body != nil {
		n, err := body(emit)
		if err != nil {
			return err
		}
		fi.Pieces += n
	}
	return b.files.Add(&fi)
}

func (b *backup) emit(emit func(*job) error, j *job) error {
	b.seq++
	b.streamOff += int64(j.size)
	return emit(j)
}

// body prepares the body of a regular file: from the files cache when the
// file is unchanged, otherwise by opening it (an error here drops the
// entry before its header is written).
func (b *backup) body(e *entry) (func(func(*job) error) (int, error), error) {
	want := e.st.Size + padding(e.st.Size)
	if ids, ok := b.cache.lookup(e, b.opt.Immutable); ok && b.cachedSize(ids) == want {
		return func(emit func(*job) error) (int, error) {
			for _, id := range ids {
				loc, _ := b.ix.Lookup(id)
				if err := b.emit(emit, &job{class: chunkstore.ClassBody, id: id, size: int(loc.RawLength)}); err != nil {
					return 0, err
				}
			}
			b.counts.FilesCached++
			return len(ids), emit(&job{remember: cacheEntry(e), pieces: len(ids)})
		}, nil
	}
	f, err := openEntry(e, 0)
	if err != nil {
		return nil, err
	}
	return func(emit func(*job) error) (int, error) {
		if total := e.st.Size + padding(e.st.Size); total <= b.s.Config().Chunking.SmallBody {
			return b.smallBody(e, f, int(total), emit)
		}
		defer f.Close()
		return b.readBody(e, f, emit)
	}, nil
}

// smallBody hands a small file's body, one piece, to a worker to read
// (readFile), followed by the files cache's note of the file, which the
// consumer keeps only if the worker read the body clean.
func (b *backup) smallBody(e *entry, f *os.File, total int, emit func(*job) error) (int, error) {
	j := &job{class: chunkstore.ClassBody, size: total, file: f, rel: e.rel, fileSize: e.st.Size}
	if err := b.emit(emit, j); err != nil {
		return 0, err
	}
	b.counts.BytesRead += e.st.Size
	return 1, emit(&job{remember: cacheEntry(e), pieces: 1, after: j})
}

// readFile reads the body of j.file into j.data and closes the file; it
// runs on a worker.
func (b *backup) readFile(j *job) {
	defer j.closeFile()
	br := newBodyReader(j.file, j.fileSize)
	j.data = make([]byte, j.size)
	if _, err := io.ReadFull(br, j.data); err != nil {
		j.err = fmt.Errorf("failed to read %s: %w", j.rel, err)
		return
	}
	j.clean = b.unchanged(j.rel, j.fileSize, j.file, br)
}

// closeFile closes the file of a job that has one.
func (j *job) closeFile() {
	if j.file != nil {
		j.file.Close()
		j.file = nil
	}
}

// cachedSize is the stored length of the blobs, or -1 if one is missing.
func (b *backup) cachedSize(ids []chunkstore.ID) int64 {
	var n int64
	for _, id := range ids {
		loc, ok := b.ix.Lookup(id)
		if !ok {
			return -1
		}
		n += int64(loc.RawLength)
	}
	return n
}

// readBody reads the body of a file above the small-body threshold
// (exactly its header's size, then padding) into content-defined chunks.
func (b *backup) readBody(e *entry, f *os.File, emit func(*job) error) (int, error) {
	size := e.st.Size
	br := newBodyReader(f, size)
	first := b.seq
	ch := b.s.Config().Chunking
	b.chunker.ResetWithBoundaries(br, b.keys.Polynomial, uint(ch.MinSize), uint(ch.MaxSize))
	b.chunker.SetAverageBits(ch.AverageBits)
	// The chunker fills one scratch buffer of the maximum chunk size;
	// each chunk is copied out at its own size, so the bytes in flight,
	// which the budget bounds, are the bytes held.
	if cap(b.scratch) < int(ch.MaxSize) {
		b.scratch = make([]byte, ch.MaxSize)
	}
	for {
		c, err := b.chunker.Next(b.scratch[:0])
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("failed to chunk %s: %w", e.rel, err)
		}
		data := bytes.Clone(c.Data)
		if err := b.emit(emit, &job{class: chunkstore.ClassChunk, data: data, size: len(data)}); err != nil {
			return 0, err
		}
	}
	b.counts.BytesRead += size
	if b.unchanged(e.rel, size, f, br) {
		if err := emit(&job{remember: cacheEntry(e), pieces: b.seq - first}); err != nil {
			return 0, err
		}
	}
	return b.seq - first, nil
}

// unchanged reports whether the content of the file at rel, of the given
// size when the walk saw it, is what it still holds, and warns when it is
// not.
func (b *backup) unchanged(rel string, size int64, f *os.File, br *bodyReader) bool {
	switch {
	case br.err != nil:
		b.warn(rel, fmt.Errorf("read failed, rest of the file zero-filled: %w", br.err), true)
	case br.short:
		b.warn(rel, errors.New("file shrank while being read"), true)
	default:
		fi, err := f.Stat()
		if err == nil && fi.Size() == size {
			return true
		}
		if err == nil {
			err = fmt.Errorf("file changed size while being read (%d → %d bytes)", size, fi.Size())
		}
		b.warn(rel, err, true)
	}
	return false
}
