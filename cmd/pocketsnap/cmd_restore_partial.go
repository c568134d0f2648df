package main

import (
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/restore"
)

// includeError names --include in the errors of its patterns: a
// malformed one is a usage error.
func includeError(err error) error {
	var nm *restore.NoMatchError
	switch {
	case errors.Is(err, path.ErrBadPattern):
		return usageErrorf("--include: %v", err)
	case errors.As(err, &nm):
		return fmt.Errorf("--include: %w", err)
	}
	return err
}

// reportPartial prints what a partial restore of m fetched, and what it
// could not check.
func reportPartial(w io.Writer, m *manifest.Manifest, p *restore.Partial) {
	blobs, bytes := p.Fetched()
	note := "each blob verified; the stream's SHA-256 covers the whole snapshot, so a partial restore cannot check it"
	if p.Selection.Whole() {
		note = "the patterns select the whole snapshot, so it was verified in full"
	}
	fmt.Fprintf(w, "fetched %d of %d blobs, %s of %s (%s)\n",
		blobs, len(m.Details().Stream), humanBytes(bytes), humanBytes(m.StreamSize), note)
}
