package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/restore"
)

// restoreArchive restores a classic archive (as written by the old scripts
// or by export): into --target, or, with the confirm phrase, in place of
// the live directory of its kind. The sidecar is checked as the archive is
// read, and the extracted tree is discarded unless it matches.
func restoreArchive(ctx context.Context, e *env, o restoreOptions) error {
	name, _, _ := strings.Cut(filepath.Base(o.archive), compat.Ext)
	kind, taken, nameErr := manifest.ParseName(name)
	ids, err := e.identities()
	if err != nil && !errors.Is(err, chunkstore.ErrNoIdentity) {
		return err
	}
	open := compat.Open
	if o.noVerify {
		e.ui.warnf("--no-verify: %s is not checked against a sidecar", o.archive)
		open = compat.OpenUnverified
	}
	r, err := open(ctx, o.archive, ids)
	if err != nil {
		return fmt.Errorf("restore of %s refused: %w", o.archive, err)
	}
	defer r.Close()
	src := restore.Source{Stream: r, Label: filepath.Base(o.archive)}
	if o.target != "" {
		start := time.Now()
		st, err := restore.Into(ctx, src, o.target, extractOptions())
		if err != nil {
			return fmt.Errorf("restore of %s failed, nothing was written to %s: %w", o.archive, o.target, err)
		}
		fmt.Fprintf(e.ui.stdout, "restored %s into %s: %d entries, %s, verified against its sidecar, took %s\n",
			o.archive, o.target, st.Entries, humanBytes(st.Bytes), time.Since(start).Round(time.Millisecond))
		sum := newRestoreSummary(o.target, st, start)
		sum.Archive = o.archive
		e.ui.summary(sum)
		return nil
	}
	targets := map[string]string{"rootfs": e.cfg.Value("ROOTFS_DIR"), "db": e.cfg.Value("DB_DIR")}
	target, ok := targets[kind]
	if nameErr != nil || !ok {
		return usageErrorf("%s is not named db-<UTC>.tar.zst or rootfs-<UTC>.tar.zst[.age]: give --target DIR", o.archive)
	}
	stop, start, err := e.stackCommands(o)
	if err != nil {
		return err
	}
	fi, err := os.Stat(o.archive)
	if err != nil {
		return err
	}
	sys := &restore.System{
		Stop: stop, Start: start, Options: extractOptions(), HookTimeout: hookTimeout,
		Steps: []restore.Step{{Kind: kind, Source: src, Size: fi.Size(), Taken: taken, Target: target}},
	}
	sys.Now = freeStamp(sys, time.Now())
	return runPlan(ctx, e, sys, nil, o.confirm != "")
}
