package check

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// Options say how deeply [Run] checks.
type Options struct {
	// ReadData re-reads and re-hashes every pack.
	ReadData bool
	// Decrypt, with ReadData, also decrypts and verifies every blob; the
	// store must be able to decrypt (identity loaded, or not encrypted).
	Decrypt bool
	// Index, when set, is the blob index to check references against
	// instead of the store's own: for a bucket, the device's record of
	// what it pushed there, so that no identity is needed.
	Index *chunkstore.Index
	// ReadBudget, with ReadData, limits the re-reading to a random subset
	// of the packs of at most this many bytes (at least one pack); 0
	// reads them all.
	ReadBudget int64
	// ReadPercent, with ReadData and no ReadBudget, limits the re-reading
	// in the same way to at most this percentage of the packs' bytes (at
	// least one pack); 0 or 100 reads them all.
	ReadPercent float64
	// Progress, when set, is called once before packs are re-read with
	// the number of bytes to read; the packs and bytes read are counted
	// in the Progress it returns.
	Progress func(total int64) *pipeline.Progress
}

// Problem is one thing found wrong, with the snapshots that need the
// object at fault.
type Problem struct {
	// Err names the object at fault: a *manifest.DamagedError, or a
	// *chunkstore.BlobError or *chunkstore.PackError wrapping
	// chunkstore.ErrMissing or chunkstore.ErrCorrupt.
	Err error
	// Snapshots are the names of the snapshots that need the object,
	// oldest first; none when no snapshot does.
	Snapshots []string
}

func (p Problem) Error() string {
	if len(p.Snapshots) == 0 {
		return p.Err.Error()
	}
	return fmt.Sprintf("%v (needed by %s)", p.Err, strings.Join(p.Snapshots, ", "))
}

// Unwrap returns the error naming the object at fault.
func (p Problem) Unwrap() error { return p.Err }

// Result is what [Run] found.
type Result struct {
	// Snapshots and Packs are how many were checked.
	Snapshots, Packs int
	// PacksRead and BytesRead are how many packs and bytes ReadData
	// re-hashed.
	PacksRead int
	BytesRead int64
	// Unverified names what could not be verified without the identity.
	Unverified []string
	// BlobsDecrypted is set when every blob was decrypted and verified.
	BlobsDecrypted bool
	// OnlyInBucket counts blob references to packs of an adopted
	// repository that exist only in the bucket, which a local check
	// cannot read.
	OnlyInBucket int
	// Problems are every problem found, in the order found.
	Problems []Problem
}

// OK reports whether the check found no problem.
func (r *Result) OK() bool { return len(r.Problems) == 0 }

// checker holds one run's state.
type checker struct {
	s     *chunkstore.Store
	ix    *chunkstore.Index
	users map[chunkstore.ID][]string // pack → snapshots that need it
	res   *Result
}

// Run checks the repository s, which the caller has locked (shared) and,
// for Options.Decrypt, given the identity. It fails only when the check
// cannot run (the index or the listing cannot be read, ctx is done); what
// it finds wrong is in the result.
func Run(ctx context.Context, s *chunkstore.Store, o Options) (*Result, error) {
	c := &checker{s: s, users: map[chunkstore.ID][]string{}, res: &Result{}}
	keys, err := s.Keys()
	if err != nil {
		// Nothing can be authenticated: this is the one problem.
		c.res.Problems = append(c.res.Problems, Problem{Err: err})
		return c.res, nil
	}
	c.checkSecrets(keys, o.Decrypt)
	list, damaged, err := manifest.ListValid(s)
	if err != nil {
		return nil, err
	}
	c.res.Snapshots = len(list) + len(damaged)
	if c.ix = o.Index; c.ix == nil {
		if c.ix, err = s.Index(); err != nil {
			return nil, err
		}
	}
	for _, d := range damaged {
		c.res.Problems = append(c.res.Problems, Problem{Err: d})
	}
	for _, m := range list {
		m.Resolve(c.ix.Resolve) // a version 2 manifest's prefixes, by the index checked against
	}
	c.checkReferences(list)
	packs, err := s.ListPacks()
	if err != nil {
		return nil, err
	}
	c.res.Packs = len(packs)
	if o.ReadData {
		packs = subset(packs, o.budget(packs))
		var total int64
		for _, p := range packs {
			total += p.Size
		}
		prog := new(pipeline.Progress)
		if o.Progress != nil {
			prog = o.Progress(total)
		}
		c.readPacks(ctx, packs, o.Decrypt, prog)
		c.res.BlobsDecrypted = o.Decrypt
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.res, nil
}

// report records a problem with the object of a pack.
func (c *checker) report(err error, pack chunkstore.ID) {
	c.res.Problems = append(c.res.Problems, Problem{Err: err, Snapshots: c.users[pack]})
}

// checkReferences verifies that every blob a snapshot references is
// indexed in a pack that exists.
func (c *checker) checkReferences(list []*manifest.Manifest) {
	checked := map[chunkstore.ID]bool{}
	var missing []chunkstore.ID
	adopted, err := c.s.Adopted()
	if err != nil {
		adopted = nil // a read-only store: the bucket is what is checked
	}
	for _, m := range list {
		for _, id := range m.Blobs {
			loc, ok := c.ix.Lookup(id)
			if !ok && adopted != nil && adopted.Has(id) {
				c.res.OnlyInBucket++
				continue
			}
			if !ok {
				c.res.Problems = append(c.res.Problems, Problem{
					Err:       &chunkstore.BlobError{Blob: id, Err: chunkstore.ErrMissing},
					Snapshots: []string{m.Name},
				})
				continue
			}
			if u := c.users[loc.Pack]; len(u) == 0 || u[len(u)-1] != m.Name {
				c.users[loc.Pack] = append(u, m.Name)
			}
			if !checked[loc.Pack] {
				checked[loc.Pack] = true
				if !c.s.HasPack(loc.Pack) {
					missing = append(missing, loc.Pack)
				}
			}
		}
	}
	// Reported after the loop, so each names every snapshot that needs it.
	for _, p := range missing {
		c.report(&chunkstore.PackError{Pack: p, Err: chunkstore.ErrMissing}, p)
	}
}

// readPacks re-hashes every pack and, with decrypt, reads back every blob
// it holds.
func (c *checker) readPacks(ctx context.Context, packs []chunkstore.ObjectInfo, decrypt bool, prog *pipeline.Progress) {
	indexed := map[chunkstore.ID]chunkstore.PackInfo{}
	for _, p := range c.ix.Packs() {
		indexed[p.ID] = p
	}
	for _, p := range packs {
		if ctx.Err() != nil {
			return
		}
		c.res.PacksRead++
		c.res.BytesRead += p.Size
		prog.Entries.Add(1)
		prog.Bytes.Add(p.Size)
		if err := c.s.VerifyPackSize(p.ID, indexed[p.ID].Size); err != nil {
			c.report(err, p.ID)
			continue
		}
		if !decrypt {
			continue
		}
		for _, b := range indexed[p.ID].Blobs {
			if _, err := c.s.ReadBlob(b.ID, nil); err != nil {
				c.report(err, p.ID)
				break
			}
		}
	}
}

// subset returns a random subset of packs of at most budget bytes, and at
// least one pack; all of them when budget is 0 or covers them.
// budget is how many bytes of packs to re-read; 0 for all of them.
func (o Options) budget(packs []chunkstore.ObjectInfo) int64 {
	if o.ReadBudget > 0 || o.ReadPercent <= 0 || o.ReadPercent >= 100 {
		return o.ReadBudget
	}
	var total int64
	for _, p := range packs {
		total += p.Size
	}
	return max(int64(float64(total)*o.ReadPercent/100), 1)
}

func subset(packs []chunkstore.ObjectInfo, budget int64) []chunkstore.ObjectInfo {
	if budget <= 0 {
		return packs
	}
	shuffled := slices.Clone(packs)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var out []chunkstore.ObjectInfo
	var n int64
	for _, p := range shuffled {
		if n+p.Size > budget && len(out) > 0 {
			continue
		}
		out = append(out, p)
		n += p.Size
	}
	return out
}
