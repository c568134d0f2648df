package restore

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
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
//
// It walks the file index twice and holds the directories' paths and what
// it selects, not the whole index (Issue 20: peak RSS).
func Select(m *manifest.Manifest, patterns []string) (*Selection, error) {
	pats := make([]string, len(patterns))
	for i, p := range patterns {
		pats[i] = cleanPattern(p)
		if _, err := path.Match(pats[i], ""); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	sel, err := choose(m, pats)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
	}
	var errs []error
	for j, ok := range sel.matched {
		if !ok {
			errs = append(errs, &NoMatchError{Pattern: patterns[j], Snapshot: m.Name})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := sel.findLinkTargets(m); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
	}
	return &Selection{m: m, Entries: sel.entries()}, nil
}

// chosen is what the first walk of Select finds.
type chosen struct {
	matched []bool // by pattern
	// dirs are the directories by path: their entry, and whether they
	// were chosen (a directory comes before everything below it).
	dirs map[string]dir
	// needed are the entries to extract, in stream order: those chosen
	// and the directories above them.
	needed   []int
	isNeeded map[int]bool
	// links are the needed hardlinks, and targets the entries of their
	// first paths, once the second walk has found them.
	links   map[int]link
	targets map[string]int
}

type dir struct {
	entry  int
	chosen bool
}

type link struct{ path, first string }

// choose walks m's file index once for the entries pats choose.
func choose(m *manifest.Manifest, pats []string) (*chosen, error) {
	c := &chosen{matched: make([]bool, len(pats)), dirs: map[string]dir{}, isNeeded: map[int]bool{},
		links: map[int]link{}, targets: map[string]int{}}
	err := m.EachFile(func(i int, f *manifest.File) error {
		in := false
		for j, p := range pats {
			if ok, _ := path.Match(p, f.Path); ok {
				c.matched[j], in = true, true
			}
		}
		if p, ok := c.dirs[path.Dir(f.Path)]; ok && p.chosen && f.Path != "." {
			in = true
		}
		if f.Type == "dir" {
			c.dirs[f.Path] = dir{entry: i, chosen: in}
		}
		if !in {
			return nil
		}
		// It and the directories above it that are not needed yet (those
		// are before it in the stream).
		for q, at := f.Path, i; !c.isNeeded[at]; {
			c.isNeeded[at] = true
			c.needed = append(c.needed, at)
			d, ok := c.dirs[path.Dir(q)]
			if !ok || path.Dir(q) == q {
				break
			}
			q, at = path.Dir(q), d.entry
		}
		if f.Type == "hardlink" {
			c.links[i] = link{path: f.Path, first: f.Link}
			c.targets[f.Link] = -1
		}
		return nil
	})
	slices.Sort(c.needed)
	return c, err
}

// findLinkTargets walks the index again for the entries of the needed
// hardlinks' first paths.
func (c *chosen) findLinkTargets(m *manifest.Manifest) error {
	if len(c.targets) == 0 {
		return nil
	}
	return m.EachFile(func(i int, f *manifest.File) error {
		if _, ok := c.targets[f.Path]; ok {
			c.targets[f.Path] = i
		}
		return nil
	})
}

// entries returns the needed entries, in stream order, with hardlinks
// whose first path is not needed turned into copies of it (see Select).
func (c *chosen) entries() []pipeline.Entry {
	var out []pipeline.Entry
	restoredAs := map[int]string{} // first path not needed → the link restored in its place
	for _, i := range c.needed {
		e := pipeline.Entry{File: i}
		if l, ok := c.links[i]; ok {
			if first := c.targets[l.first]; first >= 0 && !c.isNeeded[first] {
				if as, done := restoredAs[first]; done {
					e.Link = as
				} else {
					e = pipeline.Entry{File: first, Name: l.path}
					restoredAs[first] = l.path
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// cleanPattern makes a pattern relative to the snapshot's root, as the
// file index names entries ("." for the root itself).
func cleanPattern(p string) string {
	return path.Clean(strings.TrimLeft(p, "/"))
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
