package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/restic/chunker"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// Options configure a backup.
type Options struct {
	Kind   string
	Source string
	// Dir, when set, is read instead of Source: a staged view of Source
	// (see package stage). Source is still what the manifest records and
	// what the files cache belongs to.
	Dir string
	// Immutable, when set, names the files (by slash-separated path
	// relative to the source) that are never modified once written, such
	// as RocksDB's SSTs: the files cache ignores their ctime, which
	// hard-linking them into a staged view changes.
	Immutable func(rel string) bool
	// Downtime is how long the source's service was stopped for the
	// snapshot, recorded in the manifest.
	Downtime time.Duration
	// Release, when set, is called once the walk has read the source in
	// full, before the packs are flushed and the manifest written: the
	// service stopped for the read may start again. The downtime it
	// returns replaces Downtime; its error fails the backup.
	Release func() (time.Duration, error)
	// Exclude lists directories never read wherever they lie in the
	// source, compared by device and inode (the repository, the backup
	// directory); those that do not exist are ignored.
	Exclude []string
	// SkipName, when set, reports the names of directories never read
	// (pocketsnap's own staging and aside directories).
	SkipName func(name string) bool
	// Grafts replace directories of the source, by slash-separated path
	// relative to it: the directory's contents are read from the graft
	// (a staged view of a database that lies inside the source) and
	// stored at its path, or, for an empty graft, it is stored as an
	// empty directory.
	Grafts map[string]string
	// ForceRead ignores the files cache and reads every file.
	ForceRead bool
	// Root, when set, is a directory name that every member of the tar
	// stream lies under, the source itself being root/ ("db", as the
	// scripts' db archives); empty, members are rooted at "./".
	Root string
	// Host and Tool are recorded in the manifest.
	Host, Tool string
	// Workers is the number of hashing/compressing goroutines
	// (default GOMAXPROCS).
	Workers int
	// Progress, when set, is updated while the backup runs.
	Progress *Progress
	// Frames, when set, receives every piece's zstd frame in stream order:
	// their concatenation is a classic .tar.zst of the snapshot, identical
	// to what an export of the snapshot produces. It implies ForceRead.
	Frames io.Writer
	// Warn is called for every entry that could not be read in full.
	Warn func(path string, err error)
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// dir is the directory the backup reads.
func (o *Options) dir() string {
	if o.Dir != "" {
		return o.Dir
	}
	return o.Source
}

// Result is the outcome of a backup.
type Result struct {
	Manifest *manifest.Manifest
	// Details are the manifest's private part, with Files left nil: the
	// file index is written to the manifest straight from its compressed
	// form.
	Details  *manifest.Details
	Stored   chunkstore.WriteStats
	Duration time.Duration
	// Skipped lists the directories left out by Exclude and SkipName,
	// relative to the source.
	Skipped []string
}

// maxWarnings bounds the warnings kept in a manifest.
const maxWarnings = 1000

// Backup snapshots opt.Source into the store as a snapshot of opt.Kind.
// The caller holds the store's exclusive lock. On success the manifest has
// been written; it is marked incomplete when some entry could not be read
// in full (each reported through opt.Warn).
func Backup(ctx context.Context, s *chunkstore.Store, opt Options) (*Result, error) {
	if err := manifest.CheckKind(opt.Kind); err != nil {
		return nil, err
	}
	if opt.Root != "" && (strings.ContainsAny(opt.Root, "/\x00") || opt.Root == "." || opt.Root == "..") {
		return nil, fmt.Errorf("invalid stream root %q: one directory name", opt.Root)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Progress == nil {
		opt.Progress = new(Progress)
	}
	keys, err := s.Keys()
	if err != nil {
		return nil, err
	}
	ix, err := s.Index()
	if err != nil {
		return nil, err
	}
	ids, err := newIDSpool(s)
	if err != nil {
		return nil, err
	}
	defer ids.remove()
	start, err := uniqueStart(s, opt)
	if err != nil {
		return nil, err
	}
	level, err := compression(s, opt)
	if err != nil {
		return nil, err
	}
	// From here on every path goes through w.Flush, which stops the
	// writer's committer.
	before := packSet(ix)
	w, err := s.NewWriter()
	if err != nil {
		return nil, err
	}
	b := &backup{s: s, opt: opt, level: level, keys: keys, ix: ix, w: w, stream: ids}
	if s.Config().Version < 2 {
		// Issue 20.2: only a version 1 repository records the stream's
		// digest (see streamH).
		b.streamH = sha256.New()
		b.keepPlain = true
	}
	if !opt.ForceRead && opt.Frames == nil {
		b.cache = openFilesCache(s, opt.Kind, opt.Source)
		defer b.cache.close()
	}
	if b.newCache, err = createFilesCache(s, opt.Kind, opt.Source); err != nil {
		// The snapshot is safe; the next run just reads everything again.
		b.warn("files cache", err, false)
	}
	defer b.newCache.discard()
	// Flush even after a failure, so that the writer has stopped; then
	// undo takes back the packs of a backup that failed.
	if err := errors.Join(b.run(ctx), w.Flush(ctx)); err != nil {
		return nil, b.undo(err, before, start)
	}
	res, err := b.finish(start)
	if err != nil {
		return nil, b.undo(err, before, start)
	}
	return res, nil
}

// packSet returns the IDs of the packs an index holds.
func packSet(ix *chunkstore.Index) map[chunkstore.ID]bool {
	packs := ix.Packs()
	set := make(map[chunkstore.ID]bool, len(packs))
	for _, p := range packs {
		set[p.ID] = true
	}
	return set
}

// undo cleans up after a backup that failed with err: its scratch files
// first, then the packs it added since the index held before, which no
// snapshot references (a full disk must not stay full of them, issue
// 17.7). A backup killed outright leaves its packs indexed instead; the
// next run reuses them and its retention deletes what it does not.
func (b *backup) undo(err error, before map[chunkstore.ID]bool, start time.Time) error {
	b.stream.remove()
	b.newCache.discard()
	if _, serr := os.Lstat(b.s.Path(manifest.Dir + "/" + manifest.Name(b.opt.Kind, start))); serr == nil {
		return err // the manifest was written after all: its packs stay
	}
	var added []chunkstore.ID
	for _, p := range b.ix.Packs() {
		if !before[p.ID] {
			added = append(added, p.ID)
		}
	}
	if len(added) == 0 {
		return err
	}
	if derr := b.s.DropPacks(added); derr != nil {
		return errors.Join(err, fmt.Errorf("failed to delete the %d packs this backup added (pocketsnap rotate deletes them): %w", len(added), derr))
	}
	return err
}

// compression returns the level at which the backup compresses the blobs
// it stores. A daily run, one that follows a snapshot of the same kind,
// stores little new data: chunkstore.LevelStrong makes what it uploads
// smaller for little CPU. The first snapshot of a kind compresses its
// whole source and keeps chunkstore.LevelFast, as does a backup that
// writes a classic archive (Frames), which compresses every piece of the
// stream. The choice depends on the repository's snapshots only, never on
// the device's files cache, so it is the same on every device.
func compression(s *chunkstore.Store, opt Options) (chunkstore.Level, error) {
	if opt.Frames != nil {
		return chunkstore.LevelFast, nil
	}
	names, err := manifest.Names(s)
	if err != nil {
		return 0, err
	}
	for _, n := range names {
		if kind, _, err := manifest.ParseName(n); err == nil && kind == opt.Kind {
			return chunkstore.LevelStrong, nil
		}
	}
	return chunkstore.LevelFast, nil
}

// uniqueStart returns a start time whose snapshot name is free, waiting
// for the next second if a snapshot of the same kind was taken this one.
func uniqueStart(s *chunkstore.Store, opt Options) (time.Time, error) {
	for range 3 {
		t := opt.Now().UTC()
		if _, err := os.Lstat(s.Path(manifest.Dir + "/" + manifest.Name(opt.Kind, t))); os.IsNotExist(err) {
			return t, nil
		}
		time.Sleep(time.Until(t.Truncate(time.Second).Add(time.Second)))
	}
	return time.Time{}, fmt.Errorf("a snapshot of kind %s was just taken; try again", opt.Kind)
}

type backup struct {
	s        *chunkstore.Store
	opt      Options
	level    chunkstore.Level
	keys     *chunkstore.Keys
	ix       *chunkstore.Index
	w        *chunkstore.Writer
	cache    *cacheReader
	newCache *cacheWriter

	// Owned by the producer.
	seq       int
	streamOff int64
	files     manifest.FileIndex
	chunker   *chunker.Chunker
	scratch   []byte
	counts    manifest.Counts

	// keepPlain, set before the workers start, keeps each piece's
	// plaintext until the consumer has taken it, for streamH.
	keepPlain bool

	// Owned by the consumer.
	stream *idSpool
	// streamH hashes the stream for the manifest's digest, in a version 1
	// repository only: in version 2 the authenticated manifest's ordered
	// keyed blob IDs fix every byte of the stream, and every reader
	// verifies them (doc/format.md, What authenticates what), so the
	// digest would only hash every byte a second time on one core. It is
	// nil from the start in version 2, and in version 1 once a piece came
	// from the files cache unread, as the digest is then lost and hashing
	// the rest would only hash the read pieces a second time (their blob
	// IDs already cover them).
	streamH hash.Hash

	skipped []string

	mu         sync.Mutex
	warnings   []string
	incomplete bool
}

func (b *backup) warn(path string, err error, incomplete bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if incomplete {
		b.incomplete = true
	}
	if errors.Is(err, ErrChanged) {
		b.counts.Changed++ // only the producer finds changed entries
	}
	if len(b.warnings) < maxWarnings {
		b.warnings = append(b.warnings, fmt.Sprintf("%s: %v", path, err))
	}
	if b.opt.Warn != nil {
		b.opt.Warn(path, err)
	}
}

// A job is one piece of the stream on its way from the producer to the
// packer, through a hashing/compressing worker.
type job struct {
	class chunkstore.Class
	// data is the plaintext: nil for a piece known from the files cache
	// (cached), and dropped once compressed when the consumer does not
	// need it (keepPlain unset).
	data   []byte
	cached bool
	// file, when set, is a small file whose body (size bytes, padding
	// included) the worker reads into data and closes: reading, the
	// body's syscalls and the copy out of the page cache, was most of
	// the one producer goroutine's time on a tree of small files, while
	// the workers waited for it (issue 20.1). rel and fileSize are the
	// entry's path and size; clean reports that the body read is what
	// the file held, so that the files cache may remember it; err is a
	// read failure that stops the backup.
	file     *os.File
	rel      string
	fileSize int64
	clean    bool
	err      error
	size     int
	id       chunkstore.ID
	frame    []byte // compressed form, when the blob is not stored yet
	done     chan struct{}
	// held is the bytes of the budget the job holds: its plaintext's,
	// then, once compressed and unless keepPlain, its frame's.
	held int

	// remember, on a job that is no piece, follows the pieces of a file
	// to remember in the files cache: the last pieces taken; unless
	// after, the piece a worker read, was not read clean.
	remember *cachedFile
	pieces   int
	after    *job
}

func (b *backup) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	bud := newBudget(max(8<<20, 2*maxPiece(b.s.Config().Chunking)))
	work := make(chan *job, 4*b.opt.Workers)
	// The budget, not this queue, is meant to bound the pieces in flight:
	// a small file is three jobs (header, body, files cache note), and a
	// queue of 256 stopped the producer after about 85 of them while a
	// worker compressed one large chunk.
	ordered := make(chan *job, 1024)

	var wg sync.WaitGroup
	for range b.opt.Workers {
		wg.Go(func() {
			for j := range work {
				if j.file != nil {
					b.readFile(j)
				}
				if j.err == nil {
					b.hashAndCompress(j, bud)
				}
				close(j.done)
			}
		})
	}
	consumed := make(chan error, 1)
	go func() { consumed <- b.consume(ctx, ordered, bud) }()

	emit := func(j *job) error {
		// A piece from the files cache holds no bytes.
		j.held = len(j.data)
		if j.file != nil {
			j.held = j.size
		}
		if err := bud.acquire(ctx, j.held); err != nil {
			j.closeFile()
			return err
		}
		j.done = make(chan struct{})
		j.cached = j.data == nil && j.file == nil
		if j.data == nil && j.file == nil {
			close(j.done)
		} else {
			select {
			case work <- j:
			case <-ctx.Done():
				j.closeFile()
				return context.Cause(ctx)
			}
		}
		select {
		case ordered <- j:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		return nil
	}
	err := b.produce(ctx, emit)
	close(work)
	close(ordered)
	if err != nil {
		cancel(err)
	}
	wg.Wait()
	if cerr := <-consumed; err == nil {
		err = cerr
	}
	return err
}

// maxPiece is the largest piece a backup makes.
func maxPiece(ch chunkstore.Chunking) int {
	return int(max(int64(ch.MaxSize), ch.SmallBody)) + blockSize
}

// hashAndCompress computes a piece's blob ID and, when it is new (or a
// classic archive wants every frame), its frame. Unless the consumer
// needs the plaintext, it then gives back the budget the plaintext held
// but what the frame keeps, so that the pieces after one that is slow to
// compress can go on being read and compressed while it is (issue 20.1:
// the consumer takes pieces in stream order, and a 4 MiB chunk used to
// hold the whole budget up with the pieces behind it, leaving a core
// idle).
func (b *backup) hashAndCompress(j *job, bud budget) {
	j.id = b.keys.BlobID(j.data)
	if b.opt.Frames != nil || !b.ix.Has(j.id) {
		j.frame = b.s.CompressAt(b.level, nil, j.data)
		if cap(j.frame)-len(j.frame) > len(j.frame)/4 {
			// CompressAt made room for the worst case: keep what the
			// frame needs only, as it waits for its turn.
			j.frame = bytes.Clone(j.frame)
		}
	}
	if !b.keepPlain {
		keep := min(cap(j.frame), j.held)
		bud.release(j.held - keep)
		j.held, j.data = keep, nil
	}
}

// consume takes pieces in stream order, feeds the stream digest and hands
// new blobs to the pack writer.
func (b *backup) consume(ctx context.Context, ordered <-chan *job, bud budget) error {
	var err error
	for j := range ordered {
		<-j.done
		if err == nil {
			err = b.take(ctx, j)
		}
		bud.release(j.held)
	}
	return err
}

func (b *backup) take(ctx context.Context, j *job) error {
	if j.remember != nil {
		if j.after == nil || j.after.clean {
			b.newCache.add(j.remember, b.stream.lastBody(j.pieces))
		}
		return nil
	}
	if j.err != nil {
		return j.err
	}
	if j.cached {
		b.streamH = nil
	} else if b.streamH != nil {
		b.streamH.Write(j.data)
	}
	if err := b.stream.add(j.id, j.class); err != nil {
		return err
	}
	if b.opt.Frames != nil {
		if _, err := b.opt.Frames.Write(j.frame); err != nil {
			return fmt.Errorf("failed to write the classic archive: %w", err)
		}
	}
	if j.frame != nil {
		if _, err := b.w.Add(ctx, j.class, j.id, j.frame, j.size); err != nil {
			return err
		}
	}
	b.opt.Progress.addStream(int64(j.size))
	return nil
}

func (b *backup) finish(start time.Time) (*Result, error) {
	end := b.opt.Now().UTC()
	st := b.w.Stats()
	b.counts.NewBlobs, b.counts.NewPacks = st.Blobs, st.Packs
	stream, err := b.stream.all()
	if err != nil {
		return nil, err
	}
	blobs, idx := manifest.Index(stream)
	d := &manifest.Details{
		Stream: idx, Source: b.opt.Source, Root: b.opt.Root, Host: b.opt.Host, Tool: b.opt.Tool,
		Start: start, End: end, Counts: b.counts, Warnings: b.warnings,
	}
	d.SetFileIndex(&b.files)
	if b.streamH != nil {
		d.StreamSHA256 = hex.EncodeToString(b.streamH.Sum(nil))
	}
	m := &manifest.Manifest{
		Version: manifest.Version, Name: manifest.Name(b.opt.Kind, start), Kind: b.opt.Kind,
		Time: start.Truncate(time.Second), Incomplete: b.incomplete,
		StreamSize: b.streamOff, AddedBytes: st.Stored, Blobs: blobs,
		// Issue 18.19: rounded up, so that a stop shorter than a
		// millisecond is not recorded as none.
		DowntimeMS: (b.opt.Downtime + time.Millisecond - 1).Milliseconds(),
	}
	m.SetDetails(d)
	if err := manifest.Save(b.s, m); err != nil {
		return nil, err
	}
	if b.newCache != nil {
		if err := b.newCache.commit(); err != nil {
			b.warn("files cache", err, false)
		}
	}
	return &Result{Manifest: m, Details: d, Stored: st, Duration: end.Sub(start), Skipped: b.skipped}, nil
}
