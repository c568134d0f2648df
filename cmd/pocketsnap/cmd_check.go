package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/check"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

type checkOptions struct {
	readData bool
	subset   dataSubset
	from     repoSource
}

// errCheckFailed is returned when check found problems (printed already).
var errCheckFailed = errors.New("check found problems")

func checkCommand() *command {
	var o checkOptions
	return &command{
		name: "check", group: "Inspect and verify",
		summary: "verify the repository (works with only the recipient)",
		usage:   "check [--read-data] [--read-data-subset SIZE|N%] [--from=remote]",
		keys:    []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_IDENTITY"},
		examples: []string{
			"pocketsnap check                # every snapshot's blobs are indexed and their packs exist",
			"pocketsnap check --read-data    # also re-hash every pack (detects bit rot, no identity needed)",
			"BACKUP_AGE_IDENTITY=~/key.txt pocketsnap check --read-data   # also decrypt and verify every blob",
			"pocketsnap check --from=remote --read-data-subset 50M   # the bucket's copy, with the device's keys: 50 MiB of random packs",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.BoolVar(&o.readData, "read-data", false, "re-hash every stored pack; with BACKUP_AGE_IDENTITY also decrypt and verify every blob")
			fs.Var(&o.subset, "read-data-subset", "as --read-data, for a random subset of the packs: at most `SIZE` bytes (64M is 64 MiB), or N% of the packs' bytes")
			fromFlag(fs, &o.from)
			return func(ctx context.Context, e *env, args []string) error { return runCheck(ctx, e, o, args) }
		},
	}
}

func runCheck(ctx context.Context, e *env, o checkOptions, args []string) error {
	if len(args) > 0 {
		return usageErrorf("check takes no arguments")
	}
	o.readData = o.readData || o.subset.set()
	e.fromRemote = o.from == "remote"
	s, release, err := e.openLocked(ctx, false)
	if err != nil {
		return err
	}
	defer release()
	opt := check.Options{ReadData: o.readData}
	if e.fromRemote {
		// Issue 17.8: the device's record of what it pushed indexes the
		// bucket, so that no identity is needed.
		if opt.Index, err = e.pushedIndex(s); err != nil {
			return err
		}
	}
	opt.ReadBudget, opt.ReadPercent = int64(o.subset.size), o.subset.percent
	canRead := false
	if o.readData && e.cfg.Value("BACKUP_AGE_IDENTITY") != "" || !s.Codec().Encrypted() {
		if err := e.loadIdentity(s); err != nil {
			return err
		}
		canRead = true
	}
	sum := checkSummary{ReadData: o.readData}
	pr := e.ui.noProgress()
	opt.Decrypt = canRead
	opt.Progress = func(total int64) *pipeline.Progress {
		prog := new(pipeline.Progress)
		pr = e.ui.startProgress("check --read-data", "packs", total, prog)
		return prog
	}
	res, err := check.Run(ctx, s, opt)
	if err != nil {
		pr.stop()
		return err
	}
	for _, p := range res.Problems {
		e.ui.errorf("%v", p)
	}
	for _, u := range res.Unverified {
		e.ui.infof("not verified without BACKUP_AGE_IDENTITY: %s", u)
	}
	if res.OnlyInBucket > 0 {
		e.ui.infof("%d blob references are to packs of the adopted repository that are only in the bucket (restore those snapshots with --from=remote)", res.OnlyInBucket)
	}
	sum.Snapshots, sum.Packs, sum.Problems = res.Snapshots, res.Packs, len(res.Problems)
	sum.PacksRead, sum.BytesRead, sum.BlobsVerified = res.PacksRead, res.BytesRead, res.BlobsDecrypted
	sum.Unverified = append([]string{}, res.Unverified...)
	how := "references checked"
	if o.readData && res.PacksRead < res.Packs {
		how += fmt.Sprintf(", %s in %d random packs re-hashed", humanBytes(sum.BytesRead), res.PacksRead)
	} else if o.readData {
		how += fmt.Sprintf(", %s of packs re-hashed", humanBytes(sum.BytesRead))
		if canRead {
			how += ", every blob decrypted and verified"
		}
	}
	if !res.OK() {
		pr.done(sum, "%d problem(s): %d snapshots, %d packs; %s", sum.Problems, sum.Snapshots, sum.Packs, how)
		return fmt.Errorf("%w: %d problem(s) in %s", errCheckFailed, sum.Problems, s.Dir())
	}
	pr.done(sum, "no problems: %d snapshots, %d packs; %s", sum.Snapshots, sum.Packs, how)
	return nil
}

// checkSummary is the --json summary of a check.
type checkSummary struct {
	Snapshots int  `json:"snapshots"`
	Packs     int  `json:"packs"`
	Problems  int  `json:"problems"`
	ReadData  bool `json:"read_data"`
	// PacksRead and BytesRead are what --read-data re-hashed.
	PacksRead int   `json:"packs_read"`
	BytesRead int64 `json:"bytes_read"`
	// Unverified names what needs the identity to be verified.
	Unverified []string `json:"unverified"`
	// BlobsVerified is set when every blob was decrypted and verified.
	BlobsVerified bool `json:"blobs_verified"`
}

// dataSubset is the value of --read-data-subset: a byte budget, or a
// percentage of the packs' bytes.
type dataSubset struct {
	size    byteSize
	percent float64
}

func (d *dataSubset) Set(s string) error {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 || f > 100 {
			return fmt.Errorf("invalid percentage %q: want more than 0%% and at most 100%%", s)
		}
		d.percent = f
		return nil
	}
	return d.size.Set(s)
}

func (d *dataSubset) String() string {
	if d.percent > 0 {
		return strconv.FormatFloat(d.percent, 'f', -1, 64) + "%"
	}
	if d.size > 0 {
		return d.size.String()
	}
	return ""
}

func (d *dataSubset) Type() string { return "SIZE|N%" }

func (d *dataSubset) set() bool { return d.percent > 0 || d.size > 0 }
