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
	"github.com/pocketsnap/pocketsnap/extract"
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
	src := restore.ArchiveSource(r, filepath.Base(o.archive))
	if src.Root != "" {
		e.ui.infof("%s: members under %s/ (the old scripts' layout): its contents are restored", o.archive, src.Root)
	} else {
		e.ui.infof("%s: members under ./ (pocketsnap's earlier layout)", o.archive)
	}
	opt := e.archiveOptions(o)
	if o.target != "" {
		start := time.Now()
		st, err := restore.Into(ctx, src, o.target, opt, e.ui.stderr)
		if err != nil {
			return fmt.Errorf("restore of %s failed, nothing was written to %s: %w", o.archive, o.target, err)
		}
		if st.Refused > 0 {
			e.ui.hintf("%d device node(s) of %s were not created (named above); if you trust who made it, restore again with --allow-devices", st.Refused, o.archive)
		}
		// Issue 18.19: never "verified" when it was not.
		how := "verified against its sidecar"
		if o.noVerify {
			how = "NOT verified (--no-verify)"
		}
		fmt.Fprintf(e.ui.stdout, "restored %s into %s: %d entries, %s, %s, took %s\n",
			o.archive, o.target, st.Entries, humanBytes(st.Bytes), how, time.Since(start).Round(time.Millisecond))
		sum := newRestoreSummary(o.target, st, start)
		sum.Archive = o.archive
		e.ui.summary(sum)
		return nil
	}
	target, ok := e.live().Target(kind)
	if nameErr != nil || !ok {
		return usageErrorf("%s is not named db-<UTC>.tar.zst or rootfs-<UTC>.tar.zst[.age]: give --target DIR", o.archive)
	}
	fi, err := os.Stat(o.archive)
	if err != nil {
		return err
	}
	sys := &restore.System{Options: opt, Steps: []restore.Step{{Kind: kind, Source: src, Size: fi.Size(), Taken: taken, Target: target,
		Aside: e.live().Aside(kind)}}}
	sys.Stamp(time.Now())
	return runPlan(ctx, e, sys, nil, o)
}

// archiveOptions are the extraction options for a classic archive, whose
// author nothing authenticates (a sidecar proves integrity only): unless
// --allow-devices, device nodes only below dev/ and not writable by group
// or others, each one refused named in a warning.
func (e *env) archiveOptions(o restoreOptions) extract.Options {
	opt := extractOptions()
	if !o.devices {
		opt.UntrustedDevices = true
		opt.Refused = func(name, why string) {
			e.ui.warnf("%s: device node %q not created: %s (--allow-devices creates it)", filepath.Base(o.archive), name, why)
		}
	}
	return opt
}
