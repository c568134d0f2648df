package offsite

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/remote"
	"github.com/pocketsnap/pocketsnap/retention"
)

// ErrPlaintext is returned for a repository without recipients: its
// objects are not encrypted, and plaintext never leaves the device.
var ErrPlaintext = errors.New("the repository is not encrypted, and plaintext never leaves the device")

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
	// Policy gives each kind's retention policy, the bucket's: a local
	// snapshot it would drop at once from the bucket is not sent (see
	// [Ledger.Pending]). nil sends every snapshot.
	Policy func(kind string) retention.Policy
	// Files are pushed after the snapshots, unless present with their
	// size.
	Files []LocalFile
	// Planned, if not nil, is told what this run will send once it has
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
	Name string `json:"name"`
	Size int64  `json:"size"`
	// Snapshot is the snapshot whose upload it is part of, if any.
	Snapshot string `json:"snapshot,omitempty"`
}

// PushResult says what a push did (or, for a dry run, would do).
type PushResult struct {
	// Planned lists what the bucket lacked, in the order it is sent.
	Planned []Upload
	// Sending lists what this run sends: Planned up to the cap, less
	// TooLarge. A dry run's is what the push would send.
	Sending []Upload
	// TooLarge lists the objects never attempted: a single PUT takes
	// less than [remote.MaxPutSize].
	TooLarge []Upload
	// SentObjects and SentBytes count what went out (a dry run: would).
	SentObjects int
	SentBytes   int64
	// Snapshots lists the snapshots made visible in the bucket.
	Snapshots []string
	// Capped is set when MaxUpload, or Stop, stopped the push early.
	Capped bool
	// Stopped is Stop's answer when it stopped the push.
	Stopped string
	// Unreadable names the local snapshots whose manifests do not load:
	// not sent.
	Unreadable []string
	// LeftObjects and LeftBytes count what the next push will send.
	LeftObjects int
	LeftBytes   int64

	// visible are the ledger entries of the snapshots made visible.
	visible map[string]Entry
}

// PlannedBytes is the sum of the planned uploads.
func (r *PushResult) PlannedBytes() int64 { return TotalSize(r.Planned) }

// Assume applies the push's outcome to a listing of the bucket and to the
// ledger, as if it had run: what a dry run of what follows it must see.
func (r *PushResult) Assume(listing map[string]remote.Object, l *Ledger) {
	for _, u := range r.Sending {
		listing[u.Name] = remote.Object{Size: u.Size}
	}
	for name, e := range r.visible {
		l.Snapshots[name] = e
	}
}

// TotalSize sums the objects' sizes.
func TotalSize(objects []Upload) int64 {
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
	entry    Entry
	objects  []object
	last     *object
}

type object struct {
	Upload
	path string
	pack *chunkstore.PackInfo
	send bool // within this run's cap
}

// Push uploads to the bucket what it lacks of the repository: its config
// and encrypted secrets, then for each snapshot (db first, rootfs last,
// oldest first within a kind) the packs it needs and then its manifest,
// then opt.Files. It lists the bucket once, and reads nothing from it
// unless its config's ETag is not an MD5 (see [CheckIdentity]). Only one
// push may run at a time (the caller's lock); it needs no repository
// lock, since it only reads files that writers replace atomically: a pack
// that a rotation deletes meanwhile fails the push, and the next push
// plans afresh.
//
// With MaxUpload, the run sends the longest prefix of the plan that fits,
// never an object twice: the packs of a snapshot whose manifest has not
// gone yet stay in the bucket (see [Ledger.Live]) for the next run.
func Push(ctx context.Context, s *chunkstore.Store, b *remote.Bucket, opt PushOptions) (*PushResult, error) {
	if !s.Codec().Encrypted() {
		return nil, fmt.Errorf("%s: %w", s.Dir(), ErrPlaintext)
	}
	objects, err := b.ListObjects(ctx)
	if err != nil {
		return nil, err
	}
	if err := CheckIdentity(ctx, s, b, objects); err != nil {
		return nil, err
	}
	listing := Sizes(objects)
	ledger, err := LoadLedger(s)
	if err != nil {
		return nil, err
	}
	if !opt.DryRun {
		if err := reconcile(s, listing, ledger); err != nil {
			return nil, err
		}
	}
	pending, unreadable, err := ledger.Pending(s, SnapshotNames(listing), opt.Policy)
	if err != nil {
		return nil, err
	}
	steps, err := plan(s, listing, pending, opt.Files)
	if err != nil {
		return nil, err
	}
	res := cut(steps, opt.MaxUpload)
	res.Unreadable = unreadable
	if opt.DryRun {
		res.SentObjects, res.SentBytes = len(res.Sending), TotalSize(res.Sending)
		return res, nil
	}
	total := TotalSize(res.Sending)
	if opt.Planned != nil {
		opt.Planned(len(res.Sending), total)
	}
	p := &pusher{s: s, b: b, opt: opt, res: res, ledger: ledger}
	res.Snapshots = nil
	return res, p.run(ctx, steps)
}

// Sizes returns the objects' sizes by name.
func Sizes(objects map[string]remote.Object) map[string]int64 {
	out := make(map[string]int64, len(objects))
	for name, o := range objects {
		out[name] = o.Size
	}
	return out
}

// cut decides what this run sends: the plan up to the first object that
// would take it past maxUpload, less the objects too large for one PUT.
// A snapshot becomes visible when its manifest is sent, which needs every
// one of its packs to be.
func cut(steps []step, maxUpload int64) *PushResult {
	res := &PushResult{visible: map[string]Entry{}}
	var reserved int64
	for i := range steps {
		st := &steps[i]
		complete := true
		for _, o := range st.all() {
			res.Planned = append(res.Planned, o.Upload)
			switch {
			case o.Size >= remote.MaxPutSize:
				res.TooLarge = append(res.TooLarge, o.Upload)
				complete = false
				continue
			case res.Capped || o == st.last && !complete:
				continue
			case maxUpload > 0 && reserved+o.Size > maxUpload:
				res.Capped = true
				continue
			}
			reserved += o.Size
			o.send = true
			res.Sending = append(res.Sending, o.Upload)
			if o == st.last {
				res.Snapshots = append(res.Snapshots, st.snapshot)
				res.visible[st.snapshot] = st.entry
			}
		}
	}
	left := len(res.Planned) - len(res.Sending) - len(res.TooLarge)
	res.LeftObjects = left
	res.LeftBytes = res.PlannedBytes() - TotalSize(res.Sending) - TotalSize(res.TooLarge)
	return res
}

// all returns pointers to the step's objects, the manifest last.
func (st *step) all() []*object {
	out := make([]*object, 0, len(st.objects)+1)
	for i := range st.objects {
		out = append(out, &st.objects[i])
	}
	if st.last != nil {
		out = append(out, st.last)
	}
	return out
}

// reconcile records what a push killed before it could record it left in
// the bucket: the device's packs there, and the ledger entries of the
// snapshots there that it knows locally (or that an older pocketsnap
// pushed without a ledger).
func reconcile(s *chunkstore.Store, listing map[string]int64, ledger *Ledger) error {
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
	if err := s.RecordRemote(found...); err != nil {
		return err
	}
	local, err := manifest.Names(s)
	if err != nil {
		return err
	}
	inBucket := func(id chunkstore.ID) bool { _, ok := listing[chunkstore.PackName(id)]; return ok }
	changed := false
	for _, name := range SnapshotNames(listing) {
		if _, ok := ledger.Snapshots[name]; ok || !slices.Contains(local, name) {
			continue
		}
		m, err := manifest.Load(s, name)
		if err != nil {
			continue // it stays unknown, and blocks the bucket's GC
		}
		packs, _, err := Packs(s, m.Blobs, inBucket)
		if err != nil {
			return err
		}
		ledger.Snapshots[name] = entry(packs, m)
		changed = true
	}
	if !changed {
		return nil
	}
	return ledger.Save(s)
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

// plan lists what the bucket lacks of the pending snapshots and the
// files, in sending order.
func plan(s *chunkstore.Store, listing map[string]int64, pending []*manifest.Manifest, files []LocalFile) ([]step, error) {
	var steps []step
	// The secrets go before the config, which marks a repository.
	for _, name := range []string{s.SecretsName(), chunkstore.ConfigName} {
		if _, ok := listing[name]; !ok {
			o, err := repoFile(s, name, "")
			if err != nil {
				return nil, err
			}
			steps = append(steps, step{objects: []object{o}})
		}
	}
	pending = slices.Clone(pending)
	slices.SortStableFunc(pending, func(a, b *manifest.Manifest) int {
		return cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind))
	})
	ix, err := s.Index()
	if err != nil {
		return nil, err
	}
	planned := map[chunkstore.ID]bool{}
	plannedSets := map[string]bool{}
	inBucket := func(id chunkstore.ID) bool {
		_, there := listing[chunkstore.PackName(id)]
		return there || planned[id]
	}
	for _, m := range pending {
		name := m.Name
		mname := path.Join(manifest.Dir, name)
		st := step{snapshot: name}
		// A version 2 manifest's set object goes before it, as its packs
		// do.
		if set := manifest.SetName(m.Base); m.Version == manifest.Version2 && !plannedSets[set] {
			if _, there := listing[set]; !there {
				o, err := repoFile(s, set, name)
				if err != nil {
					return nil, err
				}
				st.objects = append(st.objects, o)
			}
			plannedSets[set] = true
		}
		for _, id := range m.Blobs {
			loc, ok := ix.Lookup(id)
			if !ok || inBucket(loc.Pack) {
				continue
			}
			planned[loc.Pack] = true
			p, _ := ix.Pack(loc.Pack)
			o, err := repoFile(s, chunkstore.PackName(loc.Pack), name)
			if err != nil {
				return nil, err
			}
			o.pack = &p
			st.objects = append(st.objects, o)
		}
		packs, missing, err := Packs(s, m.Blobs, inBucket)
		if err != nil {
			return nil, err
		}
		if missing > 0 {
			return nil, fmt.Errorf("snapshot %s: %d blobs are neither in a local pack nor in the bucket: run `pocketsnap check`", name, missing)
		}
		st.entry = entry(packs, m)
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
		steps = append(steps, step{objects: []object{{Upload: Upload{Name: f.Name, Size: f.Size}, path: f.Path}}})
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
	return object{Upload: Upload{Name: name, Size: fi.Size(), Snapshot: snapshot}, path: p}, nil
}

// pusher runs a plan.
type pusher struct {
	s      *chunkstore.Store
	b      *remote.Bucket
	opt    PushOptions
	res    *PushResult
	ledger *Ledger

	mu   sync.Mutex
	sent atomic.Int64
}

func (p *pusher) run(ctx context.Context, steps []step) error {
	jobs := cmp.Or(p.opt.Jobs, 4)
	for _, st := range steps {
		if err := p.sendAll(ctx, st.objects, jobs); err != nil {
			return err
		}
		if st.last == nil || !st.last.send || p.stopped() {
			continue
		}
		if err := p.send(ctx, *st.last); err != nil {
			return err
		}
		p.ledger.Snapshots[st.snapshot] = st.entry
		if err := p.ledger.Save(p.s); err != nil {
			return err
		}
		p.res.Snapshots = append(p.res.Snapshots, st.snapshot)
	}
	if p.res.Stopped != "" {
		r := p.res
		r.LeftObjects = len(r.Planned) - r.SentObjects - len(r.TooLarge)
		r.LeftBytes = r.PlannedBytes() - r.SentBytes - TotalSize(r.TooLarge)
	}
	return nil
}

// stopped asks opt.Stop, once the push is not already stopped, and
// records its answer.
func (p *pusher) stopped() bool {
	p.mu.Lock()
	done := p.res.Stopped != ""
	p.mu.Unlock()
	if done || p.opt.Stop == nil {
		return done
	}
	why := p.opt.Stop()
	if why == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.res.Stopped == "" {
		p.res.Capped, p.res.Stopped = true, why
	}
	return true
}

// sendAll uploads the objects within the cap, jobs at a time.
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
		if !o.send {
			continue
		}
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

// send uploads one object and records a pack as being in the bucket once
// it is.
func (p *pusher) send(ctx context.Context, o object) error {
	if p.stopped() {
		return nil
	}
	f, err := os.Open(o.path)
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", o.Name, err)
	}
	defer f.Close()
	var attempt atomic.Int64
	err = p.b.Put(ctx, o.Name, f, o.Size, func(n int64) {
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

func (p *pusher) progress(n int64) {
	sent := p.sent.Add(n)
	if p.opt.Progress != nil {
		p.mu.Lock()
		objects := p.res.SentObjects
		p.mu.Unlock()
		p.opt.Progress(sent, objects)
	}
}
