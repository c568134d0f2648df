package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/restore"
)

// partialRestore reads the entries of a snapshot that --include selects.
type partialRestore struct {
	m   *manifest.Manifest
	sel *restore.Selection
	sr  *pipeline.StreamReader
}

// startPartial selects the entries patterns name in m and starts fetching
// them from s. Close it when done.
func startPartial(ctx context.Context, s *chunkstore.Store, m *manifest.Manifest, patterns []string) (*partialRestore, error) {
	if _, err := m.Open(s.Codec()); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
	}
	sel, err := restore.Select(m, patterns)
	if errors.Is(err, path.ErrBadPattern) {
		return nil, usageErrorf("--include: %v", err)
	}
	if err != nil {
		return nil, fmt.Errorf("--include: %w", err)
	}
	sr, err := sel.Reader(ctx, s)
	if err != nil {
		return nil, err
	}
	return &partialRestore{m: m, sel: sel, sr: sr}, nil
}

func (p *partialRestore) source() restore.Source {
	return restore.Source{Stream: p.sr, Label: p.m.Name, Root: p.m.Details().Root}
}

// report prints what the restore fetched of the snapshot, and what it
// could not check.
func (p *partialRestore) report(w io.Writer) {
	blobs, bytes := p.sr.Fetched()
	note := "each blob verified; the stream's SHA-256 covers the whole snapshot, so a partial restore cannot check it"
	if p.sel.Whole() {
		note = "the patterns select the whole snapshot, so it was verified in full"
	}
	fmt.Fprintf(w, "fetched %d of %d blobs, %s of %s (%s)\n",
		blobs, len(p.m.Details().Stream), humanBytes(bytes), humanBytes(p.m.StreamSize), note)
}

func (p *partialRestore) Close() error { return p.sr.Close() }
