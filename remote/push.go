package remote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// ErrForeign is returned when the bucket holds another repository.
var ErrForeign = errors.New("the bucket holds a different repository")

// ErrPlaintext is returned for a repository without recipients: its
// objects are not encrypted, and plaintext never leaves the device.
var ErrPlaintext = errors.New("the repository is not encrypted, and plaintext never leaves the device")

// ArchivesDir is the bucket directory of the classic archives.
const ArchivesDir = "archives"

// LocalFile is a file to push as it is, such as a classic archive.
type LocalFile struct {
	Name string // repository-relative name in the bucket
	Path string
	Size int64
}

// PushOptions tune a push.
type PushOptions struct {
	// Jobs is how many objects are uploaded at once (0: 4).
	Jobs int
	// MaxUpload stops the push, cleanly, before an object would take the
	// bytes sent past it; 0: no cap. The next push continues.
	MaxUpload int64
	// DryRun computes the plan and sends nothing.
	DryRun bool
	// Files are pushed after the snapshots, unless present with their
	// size.
	Files []LocalFile
	// Planned, if not nil, is told what the push will send once it has
	// planned it, before it sends anything.
	Planned func(objects int, bytes int64)
	// Progress, if not nil, is told the bytes and the objects sent so far.
	Progress func(bytes int64, objects int)
	// Stop, if not nil, is asked before each object is started; an answer
	// other than "" (why: "on mobile data") stops the push cleanly there,
	// as MaxUpload does, and is kept in PushResult.Stopped. It must
	// answer at once: it is asked on the upload's path.
	Stop func() string
}

// Upload is one object a push sends.
type Upload struct {
	Name string
	Size int64
	// Snapshot is the snapshot whose upload it is part of, if any.
	Snapshot string
}

// PushResult says what a push did (or, for a dry run, would do).
type PushResult struct {
	// Planned lists what the bucket lacked, in the order it is sent.
	Planned []Upload
	// Sent counts what went out.
	SentObjects int
	SentBytes   int64
	// Snapshots lists the snapshots made visible in the bucket.
	Snapshots []string
	// Capped is set when MaxUpload, or Stop, stopped the push early.
	Capped bool
	// Stopped is Stop's answer when it stopped the push.
	Stopped string
	// LeftObjects and LeftBytes count what the next push will send.
	LeftObjects int
	LeftBytes   int64
}

// PlannedBytes is the sum of the planned uploads.
func (r *PushResult) PlannedBytes() int64 { return totalSize(r.Planned) }

// totalSize sums the objects' sizes.
func totalSize(objects []Upload) int64 {
	var n int64
	for _, u := range objects {
		n += u.Size
	}
	return n
}

// step is an item of the plan: some objects sent in parallel, then, once
// all of them are stored, the last one (a snapshot's manifest).
type step struct {
	snapshot string
	objects  []object
	last     *object
}

type object struct {
	Upload
	src  func() (io.ReaderAt, func() error, error)
	pack *chunkstore.PackInfo
}

// Push uploads to the bucket what it lacks of the repository: its config
// and encrypted secrets, then for each snapshot (db first, rootfs last,
// oldest first within a kind) the packs it needs and then its manifest,
// then opt.Files. It lists the bucket once. Only one push may run at a
// time (the caller's lock); it needs no repository lock, since it only
// reads files that writers replace atomically: a pack that a rotation
// deletes meanwhile fails the push, and the next push plans afresh.
func Push(ctx context.Context, s *chunkstore.Store, b *Bucket, opt PushOptions) (*PushResult, error) {
	if !s.Codec().Encrypted() {
		return nil, fmt.Errorf("%s: %w", s.Dir(), ErrPlaintext)
	}
	listing, err := b.List(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkIdentity(ctx, s, b, listing); err != nil {
		return nil, err
	}
	if err := reconcile(s, listing); err != nil {
		return nil, err
	}
	steps, err := plan(s, listing, opt.Files)
	if err != nil {
		return nil, err
	}
	res := &PushResult{}
	for _, st := range steps {
		for _, o := range st.all() {
			res.Planned = append(res.Planned, o.Upload)
		}
	}
	if opt.DryRun {
		return res, nil
	}
	if opt.Planned != nil {
		opt.Planned(len(res.Planned), res.PlannedBytes())
	}
	return res, (&pusher{s: s, b: b, opt: opt, res: res, total: res.PlannedBytes()}).run(ctx, steps)
}

func (st step) all() []object {
	if st.last == nil {
		return st.objects
	}
	return append(slices.Clip(st.objects), *st.last)
}

// checkIdentity refuses a bucket that holds another repository.
func checkIdentity(ctx context.Context, s *chunkstore.Store, b *Bucket, listing map[string]int64) error {
	if _, ok := listing[chunkstore.ConfigName]; !ok {
		return nil
	}
	raw, err := b.ReadFile(ctx, chunkstore.ConfigName)
	if err != nil {
		return err
	}
	cfg, err := chunkstore.ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("%s: invalid %s: %w", b, chunkstore.ConfigName, err)
	}
	if cfg.ID != s.Config().ID {
		return fmt.Errorf("%w: %s holds repository %s, this device's is %s (use another S3_PREFIX or bucket)", ErrForeign, b, cfg.ID, s.Config().ID)
	}
	return nil
}

// reconcile records as being in the bucket the device's packs that a
// push killed before it could record them left there.
func reconcile(s *chunkstore.Store, listing map[string]int64) error {
	ix, err := s.Index()
	if err != nil {
		return err
	}
	rix, err := s.RemoteIndex()
	if err != nil {
		return err
	}
	var found []chunkstore.PackInfo
	for _, p := range ix.Packs() {
		if _, ok := listing[chunkstore.PackName(p.ID)]; ok && !rix.HasPack(p.ID) {
			found = append(found, p)
		}
	}
	return s.RecordRemote(found...)
}

// kindOrder sends db snapshots first and rootfs last: on a capped link the
// small daily database matters most.
func kindOrder(kind string) int {
	switch kind {
	case "db":
		return 0
	case "rootfs":
		return 2
	}
	return 1
}

// plan lists what the bucket lacks, in sending order.
func plan(s *chunkstore.Store, listing map[string]int64, files []LocalFile) ([]step, error) {
	var steps []step
	var base []object
	for _, name := range []string{s.SecretsName(), chunkstore.ConfigName} {
		if _, ok := listing[name]; !ok {
			o, err := repoFile(s, name, "")
			if err != nil {
				return nil, err
			}
			base = append(base, o)
		}
	}
	// The secrets go before the config, which marks a repository.
	for _, o := range base {
		steps = append(steps, step{objects: []object{o}})
	}
	names, err := manifest.Names(s)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(names, func(a, b string) int {
		ka, _, _ := manifest.ParseName(a)
		kb, _, _ := manifest.ParseName(b)
		return cmp.Compare(kindOrder(ka), kindOrder(kb))
	})
	ix, err := s.Index()
	if err != nil {
		return nil, err
	}
	rix, err := s.RemoteIndex()
	if err != nil {
		return nil, err
	}
	planned := map[chunkstore.ID]bool{}
	for _, name := range names {
		mname := path.Join(manifest.Dir, name)
		if _, ok := listing[mname]; ok {
			continue
		}
		m, err := manifest.Load(s, name)
		if err != nil {
			return nil, err
		}
		st := step{snapshot: name}
		for _, id := range m.Blobs {
			if loc, ok := ix.Lookup(id); ok {
				pname := chunkstore.PackName(loc.Pack)
				if _, there := listing[pname]; there || planned[loc.Pack] {
					continue
				}
				planned[loc.Pack] = true
				p, _ := ix.Pack(loc.Pack)
				o, err := repoFile(s, pname, name)
				if err != nil {
					return nil, err
				}
				o.pack = &p
				st.objects = append(st.objects, o)
				continue
			}
			loc, ok := rix.Lookup(id)
			if _, there := listing[chunkstore.PackName(loc.Pack)]; !ok || !there {
				return nil, fmt.Errorf("snapshot %s: blob %s is neither in a local pack nor in the bucket: run `pocketsnap check`", name, id)
			}
		}
		o, err := repoFile(s, mname, name)
		if err != nil {
			return nil, err
		}
		st.last = &o
		steps = append(steps, st)
	}
	for _, f := range files {
		if size, ok := listing[f.Name]; ok && size == f.Size {
			continue
		}
		steps = append(steps, step{objects: []object{localFile(f)}})
	}
	return steps, nil
}

// repoFile is an upload of a repository file.
func repoFile(s *chunkstore.Store, name, snapshot string) (object, error) {
	p := s.Path(name)
	fi, err := os.Stat(p)
	if err != nil {
		return object{}, err
	}
	return localFile(LocalFile{Name: name, Path: p, Size: fi.Size()}).withSnapshot(snapshot), nil
}

func localFile(f LocalFile) object {
	return object{
		Upload: Upload{Name: f.Name, Size: f.Size},
		src: func() (io.ReaderAt, func() error, error) {
			fh, err := os.Open(f.Path)
			if err != nil {
				return nil, nil, err
			}
			return fh, fh.Close, nil
		},
	}
}

func (o object) withSnapshot(name string) object {
	o.Snapshot = name
	return o
}

// pusher runs a plan.
type pusher struct {
	s     *chunkstore.Store
	b     *Bucket
	opt   PushOptions
	res   *PushResult
	total int64

	mu       sync.Mutex
	reserved int64 // bytes of objects started or sent
	sent     atomic.Int64
}

func (p *pusher) run(ctx context.Context, steps []step) error {
	jobs := cmp.Or(p.opt.Jobs, 4)
	for _, st := range steps {
		if err := p.sendAll(ctx, st.objects, jobs); err != nil {
			return err
		}
		if st.last != nil && !p.res.Capped {
			if err := p.send(ctx, *st.last); err != nil {
				return err
			}
			if !p.res.Capped {
				p.res.Snapshots = append(p.res.Snapshots, st.snapshot)
			}
		}
		if p.res.Capped {
			break
		}
	}
	p.res.LeftObjects = len(p.res.Planned) - p.res.SentObjects
	p.res.LeftBytes = p.total - p.res.SentBytes
	return nil
}

// sendAll uploads objects, jobs at a time.
func (p *pusher) sendAll(ctx context.Context, objects []object, jobs int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan object)
	errs := make(chan error, jobs)
	var wg sync.WaitGroup
	for range min(jobs, len(objects)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := p.send(ctx, o); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for _, o := range objects {
		select {
		case work <- o:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// send uploads one object, unless the cap forbids it, and records a pack
// as being in the bucket once it is.
func (p *pusher) send(ctx context.Context, o object) error {
	if !p.reserve(o.Size) {
		return nil
	}
	src, closeSrc, err := o.src()
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", o.Name, err)
	}
	defer closeSrc()
	var attempt atomic.Int64
	err = p.b.Put(ctx, o.Name, src, o.Size, func(n int64) {
		// A retried attempt starts again from zero: count each byte once.
		if attempt.Add(n) <= o.Size {
			p.progress(n)
		}
	})
	if err != nil {
		return err
	}
	if o.pack != nil {
		if err := p.s.RecordRemote(*o.pack); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.res.SentObjects++
	p.res.SentBytes += o.Size
	objects := p.res.SentObjects
	p.mu.Unlock()
	if p.opt.Progress != nil {
		p.opt.Progress(p.sent.Load(), objects)
	}
	return nil
}

// reserve accounts for an object about to be sent; it refuses, and marks
// the push capped, when the object would take it past MaxUpload or Stop
// says to stop.
func (p *pusher) reserve(size int64) bool {
	var why string
	if p.opt.Stop != nil {
		why = p.opt.Stop()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.res.Capped {
		return false
	}
	if why != "" {
		p.res.Capped, p.res.Stopped = true, why
		return false
	}
	if p.opt.MaxUpload > 0 && p.reserved+size > p.opt.MaxUpload {
		p.res.Capped = true
		return false
	}
	p.reserved += size
	return true
}

func (p *pusher) progress(n int64) {
	sent := p.sent.Add(n)
	if p.opt.Progress != nil {
		p.mu.Lock()
		objects := p.res.SentObjects
		p.mu.Unlock()
		p.opt.Progress(sent, objects)
	}
}
