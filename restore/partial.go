package restore

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// NoMatchError reports an include pattern that selects no entry of a
// snapshot.
type NoMatchError struct {
	Pattern, Snapshot string
}

func (e *NoMatchError) Error() string {
	return fmt.Sprintf("%q matches nothing in snapshot %s (paths are relative to the snapshot's root, like etc/hostname)", e.Pattern, e.Snapshot)
}

// Selection is the part of a snapshot that a partial restore reads, found
// in the manifest's file index.
type Selection struct {
	m *manifest.Manifest
	// Entries are the entries to extract, in stream order.
	Entries []pipeline.Entry
}

// Select chooses the entries of m (whose details must be open) that a
// restore of patterns needs. A pattern is a path relative to the
// snapshot's root (a leading "/" or "./" is ignored) or a glob of
// [path.Match], whose "*" does not cross "/"; it selects every entry it
// matches and, for a directory, everything below it. The directories
// above a selected entry are selected too, as directory entries only (one
// small header each), so that they are restored with their recorded mode,
// owner and times.
//
// A selected hardlink whose first path is not selected is restored from
// that path's blobs as a regular file of its own (the inode's content and
// attributes), and other selected links to the same inode are linked to
// it, so that nothing outside the patterns appears. Every pattern must
// match something: otherwise the error joins a [*NoMatchError] for each
// that does not. A malformed pattern is an error wrapping
// [path.ErrBadPattern].
func Select(m *manifest.Manifest, patterns []string) (*Selection, error) {
	files, err := m.Files()
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
	}
	pats := make([]string, len(patterns))
	for i, p := range patterns {
		pats[i] = cleanPattern(p)
		if _, err := path.Match(pats[i], ""); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	at := make(map[string]int, len(files))
	for i, f := range files {
		at[f.Path] = i
	}
	matched := make([]bool, len(pats))
	chosen := make([]bool, len(files))
	for i, f := range files {
		for j, p := range pats {
			if ok, _ := path.Match(p, f.Path); ok {
				matched[j], chosen[i] = true, true
			}
		}
		// A directory comes before everything below it.
		if p, ok := at[path.Dir(f.Path)]; ok && chosen[p] && f.Path != "." {
			chosen[i] = true
		}
	}
	var errs []error
	for j, ok := range matched {
		if !ok {
			errs = append(errs, &NoMatchError{Pattern: patterns[j], Snapshot: m.Name})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Selection{m: m, Entries: withParents(files, at, chosen)}, nil
}

// cleanPattern makes a pattern relative to the snapshot's root, as the
// file index names entries ("." for the root itself).
func cleanPattern(p string) string {
	return path.Clean(strings.TrimLeft(p, "/"))
}

// withParents returns the chosen entries and the directories above them,
// in stream order, with hardlinks whose first path is not chosen turned
// into copies of it (see Select).
func withParents(files []manifest.File, at map[string]int, chosen []bool) []pipeline.Entry {
	needed := make([]bool, len(files))
	for i := range files {
		for p, ok := i, chosen[i]; ok && !needed[p]; p, ok = at[path.Dir(files[p].Path)] {
			needed[p] = true
		}
	}
	var out []pipeline.Entry
	restoredAs := map[int]string{} // first path not chosen → the link restored in its place
	for i, f := range files {
		if !needed[i] {
			continue
		}
		e := pipeline.Entry{File: i}
		if first, ok := at[f.Link]; f.Type == "hardlink" && ok && !needed[first] {
			if as, done := restoredAs[first]; done {
				e.Link = as
			} else {
				e = pipeline.Entry{File: first, Name: f.Path}
				restoredAs[first] = f.Path
			}
		}
		out = append(out, e)
	}
	return out
}

// Whole reports whether the selection is the whole snapshot.
func (sel *Selection) Whole() bool { return len(sel.Entries) == sel.m.FileCount() }

// Reader starts reading the selected entries from s, each blob verified
// (see [pipeline.NewEntryReader]); for the whole snapshot, the whole
// stream, checked against its length and digest too. Close it when done.
func (sel *Selection) Reader(ctx context.Context, s pipeline.BlobReader) (*pipeline.StreamReader, error) {
	if sel.Whole() {
		return pipeline.NewStreamReader(ctx, s, sel.m), nil
	}
	return pipeline.NewEntryReader(ctx, s, sel.m, sel.Entries)
}

// Partial is a partial restore under way: the entries of a snapshot that
// include patterns select, being fetched.
type Partial struct {
	// Selection is what the patterns selected.
	Selection *Selection
	sr        *pipeline.StreamReader
}

// StartPartial opens m's details, selects the entries patterns name (see
// [Select], whose errors it returns as they are) and starts fetching them
// from s. Close it when done.
func StartPartial(ctx context.Context, s *chunkstore.Store, m *manifest.Manifest, patterns []string) (*Partial, error) {
	if _, err := m.Open(s.Codec()); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
	}
	sel, err := Select(m, patterns)
	if err != nil {
		return nil, err
	}
	sr, err := sel.Reader(ctx, s)
	if err != nil {
		return nil, err
	}
	return &Partial{Selection: sel, sr: sr}, nil
}

// Source returns what the restore reads: the selected entries' stream.
func (p *Partial) Source() Source {
	m := p.Selection.m
	return Source{Stream: p.sr, Label: m.Name, Root: m.Details().Root}
}

// Fetched reports the blobs fetched so far and their bytes.
func (p *Partial) Fetched() (blobs int, bytes int64) { return p.sr.Fetched() }

// Close stops fetching.
func (p *Partial) Close() error { return p.sr.Close() }
