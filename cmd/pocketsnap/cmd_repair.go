package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

func repairCommand() *command {
	return &command{
		name: "repair", group: "Inspect and verify",
		summary: "rebuild the device's blob index (local/index) from the packs",
		usage:   "repair index",
		keys:    []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_IDENTITY"},
		examples: []string{
			"pocketsnap repair index                                   # format 2: the device's own secrets suffice",
			"BACKUP_AGE_IDENTITY=~/key.txt pocketsnap repair index     # format 1: the packs' tables need the identity",
		},
		setup: func(fs *pflag.FlagSet) runner {
			return func(ctx context.Context, e *env, args []string) error { return runRepair(ctx, e, args) }
		},
	}
}

// repairJSON is the --json summary of a repair.
type repairJSON struct {
	Packs   int `json:"packs"`
	Blobs   int `json:"blobs"`
	Before  int `json:"packs_before"`
	Damaged int `json:"packs_damaged"`
}

// runRepair rebuilds local/index under the exclusive lock. The index is a
// cache of the packs' blob tables; the next backup also rebuilds a damaged
// one by itself.
func runRepair(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 || args[0] != "index" {
		return usageErrorf("usage: pocketsnap repair index")
	}
	s, release, err := e.openLocked(ctx, true)
	if err != nil {
		return err
	}
	defer release()
	if e.cfg.Value("BACKUP_AGE_IDENTITY") != "" {
		if err := e.loadIdentity(s); err != nil {
			return err
		}
	}
	st, err := s.RepairIndex()
	if err != nil {
		return err
	}
	e.ui.infof("rebuilt %s/local/index from %d packs (%d blobs); it named %d of them before", s.Dir(), st.Packs, st.Blobs, st.Before)
	for _, id := range st.Damaged {
		e.ui.warnf("pack %s left out: its blob table cannot be read ('pocketsnap check --read-data' tells more)", chunkstore.PackName(id))
	}
	e.ui.summary(repairJSON{Packs: st.Packs, Blobs: st.Blobs, Before: st.Before, Damaged: len(st.Damaged)})
	return nil
}
