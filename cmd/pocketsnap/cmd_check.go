package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/check"
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
	sum := checkSummary{ReadData: o.readData}
	pr := e.ui.noProgress()
	res, err := check.Run(ctx, s, check.Options{
		ReadData: o.readData,
		Decrypt:  canRead,
		Progress: func(total int64) *pipeline.Progress {
			prog := new(pipeline.Progress)
			pr = e.ui.startProgress("check --read-data", "packs", total, prog)
			return prog
		},
	})
	if err != nil {
		pr.stop()
		return err
	}
	for _, p := range res.Problems {
		e.ui.errorf("%v", p)
	}
	if res.OnlyInBucket > 0 {
		e.ui.infof("%d blob references are to packs of the adopted repository that are only in the bucket (restore those snapshots with --from=remote)", res.OnlyInBucket)
	}
	sum.Snapshots, sum.Packs, sum.Problems = res.Snapshots, res.Packs, len(res.Problems)
	sum.BytesRead, sum.BlobsVerified = res.BytesRead, res.BlobsDecrypted
	how := "references checked"
	if o.readData {
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
	// BytesRead is what --read-data re-hashed.
	BytesRead int64 `json:"bytes_read"`
	// BlobsVerified is set when every blob was decrypted and verified.
	BlobsVerified bool `json:"blobs_verified"`
}
