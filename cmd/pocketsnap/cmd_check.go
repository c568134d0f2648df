package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

type checkOptions struct {
	readData bool
}

// errCheckFailed is returned when check found problems (printed already).
var errCheckFailed = errors.New("check found problems")

func checkCommand() *command {
	var o checkOptions
	return &command{
		name: "check", group: "Inspect and verify",
		summary: "verify the repository (works with only the recipient)",
		usage:   "check [--read-data]",
		keys:    []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_IDENTITY"},
		examples: []string{
			"pocketsnap check                # every snapshot's blobs are indexed and their packs exist",
			"pocketsnap check --read-data    # also re-hash every pack (detects bit rot, no identity needed)",
			"BACKUP_AGE_IDENTITY=~/key.txt pocketsnap check --read-data   # also decrypt and verify every blob",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.BoolVar(&o.readData, "read-data", false, "re-hash every stored pack; with BACKUP_AGE_IDENTITY also decrypt and verify every blob")
			return func(ctx context.Context, e *env, args []string) error { return runCheck(ctx, e, o, args) }
		},
	}
}

// checker collects problems, each naming the object and the snapshots that
// need it.
type checker struct {
	e        *env
	s        *chunkstore.Store
	ix       *chunkstore.Index
	users    map[chunkstore.ID][]string // pack → snapshots that need it
	problems int
}

func (c *checker) report(err error, pack chunkstore.ID) {
	c.problems++
	if users := c.users[pack]; len(users) > 0 {
		c.e.ui.errorf("%v (needed by %s)", err, strings.Join(users, ", "))
		return
	}
	c.e.ui.errorf("%v", err)
}

func runCheck(ctx context.Context, e *env, o checkOptions, args []string) error {
	if len(args) > 0 {
		return usageErrorf("check takes no arguments")
	}
	s, release, err := e.openLocked(ctx, false)
	if err != nil {
		return err
	}
	defer release()
	canRead := false
	if o.readData && e.cfg.Value("BACKUP_AGE_IDENTITY") != "" || !s.Codec().Encrypted() {
		if err := e.loadIdentity(s); err != nil {
			return err
		}
		canRead = true
	}
	list, err := manifest.List(s)
	if err != nil {
		return err
	}
	ix, err := s.Index()
	if err != nil {
		return err
	}
	c := &checker{e: e, s: s, ix: ix, users: map[chunkstore.ID][]string{}}
	c.checkReferences(list)
	packs, err := s.ListPacks()
	if err != nil {
		return err
	}
	sum := checkSummary{Snapshots: len(list), Packs: len(packs), ReadData: o.readData, BlobsVerified: o.readData && canRead}
	pr := e.ui.noProgress()
	if o.readData {
		var total int64
		for _, p := range packs {
			total += p.Size
		}
		prog := new(pipeline.Progress)
		pr = e.ui.startProgress("check --read-data", "packs", total, prog)
		sum.BytesRead = c.readPacks(ctx, packs, canRead, prog)
	}
	if err := ctx.Err(); err != nil {
		pr.stop()
		return err
	}
	sum.Problems = c.problems
	how := "references checked"
	if o.readData {
		how += fmt.Sprintf(", %s of packs re-hashed", humanBytes(sum.BytesRead))
		if canRead {
			how += ", every blob decrypted and verified"
		}
	}
	if c.problems > 0 {
		pr.done(sum, "%d problem(s): %d snapshots, %d packs; %s", c.problems, len(list), len(packs), how)
		return fmt.Errorf("%w: %d problem(s) in %s", errCheckFailed, c.problems, s.Dir())
	}
	pr.done(sum, "no problems: %d snapshots, %d packs; %s", len(list), len(packs), how)
	return nil
}

// checkSummary is the --json summary of a check.
type checkSummary struct {
	Snapshots int  `json:"snapshots"`
	Packs     int  `json:"packs"`
	Problems  int  `json:"problems"`
	ReadData  bool `json:"read_data"`
	// BytesRead is what --read-data re-hashed.
	BytesRead int64 `json:"bytes_read"`
	// BlobsVerified is set when every blob was decrypted and verified.
	BlobsVerified bool `json:"blobs_verified"`
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
	inBucket := 0
	for _, m := range list {
		for _, id := range m.Blobs {
			loc, ok := c.ix.Lookup(id)
			if !ok && adopted != nil && adopted.Has(id) {
				inBucket++
				continue
			}
			if !ok {
				c.problems++
				c.e.ui.errorf("%v (needed by %s)", &chunkstore.BlobError{Blob: id, Err: chunkstore.ErrMissing}, m.Name)
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
	if inBucket > 0 {
		c.e.ui.infof("%d blob references are to packs of the adopted repository that are only in the bucket (restore those snapshots with --from=remote)", inBucket)
	}
}

// readPacks re-hashes every pack and, when the data can be decrypted,
// reads back every blob it holds.
func (c *checker) readPacks(ctx context.Context, packs []chunkstore.ObjectInfo, canRead bool, prog *pipeline.Progress) int64 {
	var n int64
	blobsIn := map[chunkstore.ID][]chunkstore.BlobEntry{}
	for _, p := range c.ix.Packs() {
		blobsIn[p.ID] = p.Blobs
	}
	for _, p := range packs {
		if ctx.Err() != nil {
			return n
		}
		n += p.Size
		prog.Entries.Add(1)
		prog.Bytes.Add(p.Size)
		if err := c.s.VerifyPack(p.ID); err != nil {
			c.report(err, p.ID)
			continue
		}
		if !canRead {
			continue
		}
		for _, b := range blobsIn[p.ID] {
			if _, err := c.s.ReadBlob(b.ID, nil); err != nil {
				c.report(err, p.ID)
				break
			}
		}
	}
	return n
}
