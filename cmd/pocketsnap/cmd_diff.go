package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
)

type diffOptions struct {
	metadata bool
}

func diffCommand() *command {
	var o diffOptions
	return &command{
		name: "diff", group: "Inspect and verify",
		summary: "show what changed between two snapshots, and what the second stored (needs the identity)",
		usage:   "diff SNAPSHOT-A SNAPSHOT-B [--metadata]",
		keys:    []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_IDENTITY"},
		examples: []string{
			"BACKUP_AGE_IDENTITY=~/key.txt pocketsnap diff rootfs-20261101T040000Z rootfs-20261129T040000Z",
			"pocketsnap diff db-20261128T040000Z db-20261129T040000Z --metadata   # also entries whose mode, owner or mtime alone changed",
			"pocketsnap diff db-20261128T040000Z db-20261129T040000Z --json | jq -r '.changed[] | select(.size_delta > 0) | .path'",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.BoolVar(&o.metadata, "metadata", false, "also list entries whose content is the same but mode, owner or mtime changed")
			return func(ctx context.Context, e *env, args []string) error { return runDiff(ctx, e, o, args) }
		},
	}
}

// diffEntry is one path that differs between the snapshots.
type diffEntry struct {
	Path string `json:"path"`
	Type string `json:"type"`
	// SizeBefore is the size in A, SizeAfter in B (0 where absent).
	SizeBefore int64 `json:"size_before"`
	SizeAfter  int64 `json:"size_after"`
	SizeDelta  int64 `json:"size_delta"`
	// Changes says what changed: content, type, link, mode, owner, mtime.
	Changes []string `json:"changes,omitempty"`
}

// diffSummary is the --json summary of a diff.
type diffSummary struct {
	A        string      `json:"a"`
	B        string      `json:"b"`
	Added    []diffEntry `json:"added"`
	Removed  []diffEntry `json:"removed"`
	Changed  []diffEntry `json:"changed"`
	Metadata []diffEntry `json:"metadata_changed,omitempty"`
	// MetadataCount counts the entries whose content is the same but
	// mode, owner or mtime changed (listed only with --metadata).
	MetadataCount int `json:"metadata_changed_count"`
	// SizeDelta is the change of the total size of B's files over A's.
	SizeDelta int64 `json:"size_delta"`
	// AddedBytes is what B's backup added to the repository (its new
	// packs), whatever A holds.
	AddedBytes int64 `json:"added_bytes"`
}

func runDiff(ctx context.Context, e *env, o diffOptions, args []string) error {
	if len(args) != 2 {
		return usageErrorf("diff needs two SNAPSHOTs (names or unique prefixes): the older and the newer")
	}
	s, release, err := openIndexes(ctx, e)
	if err != nil {
		return err
	}
	defer release()
	a, err := indexOf(s, args[0])
	if err != nil {
		return err
	}
	b, err := indexOf(s, args[1])
	if err != nil {
		return err
	}
	sum := compare(a, b)
	sum.AddedBytes = b.m.AddedBytes
	if !o.metadata {
		sum.Metadata = nil
	}
	printDiff(e, sum)
	e.ui.summary(sum)
	return nil
}

// snapshotIndex is a snapshot's file index by path, with the blob IDs of
// its stream to compare contents by.
type snapshotIndex struct {
	m      *manifest.Manifest
	files  map[string]*manifest.File
	stream []chunkstore.ID
}

func indexOf(s *chunkstore.Store, ref string) (*snapshotIndex, error) {
	m, d, err := openDetails(s, ref)
	if err != nil {
		return nil, err
	}
	x := &snapshotIndex{m: m, files: make(map[string]*manifest.File, len(d.Files)), stream: m.StreamIDs()}
	for i := range d.Files {
		x.files[d.Files[i].Path] = &d.Files[i]
	}
	return x, nil
}

// body returns the blob IDs of an entry's body. Equal keyed IDs mean equal
// content: both snapshots are in one repository, under one key.
func (x *snapshotIndex) body(f *manifest.File) []chunkstore.ID {
	return x.stream[f.Piece+1 : f.Piece+f.Pieces]
}

// compare lists what differs from a to b, by path.
func compare(a, b *snapshotIndex) *diffSummary {
	sum := &diffSummary{A: a.m.Name, B: b.m.Name, Added: []diffEntry{}, Removed: []diffEntry{}, Changed: []diffEntry{}, Metadata: []diffEntry{}}
	for _, p := range sortedPaths(a, b) {
		fa, fb := a.files[p], b.files[p]
		switch {
		case fa == nil:
			sum.Added = append(sum.Added, diffEntry{Path: p, Type: fb.Type, SizeAfter: fb.Size, SizeDelta: fb.Size})
			sum.SizeDelta += fb.Size
		case fb == nil:
			sum.Removed = append(sum.Removed, diffEntry{Path: p, Type: fa.Type, SizeBefore: fa.Size, SizeDelta: -fa.Size})
			sum.SizeDelta -= fa.Size
		default:
			changes := changesOf(a, b, fa, fb)
			if len(changes) == 0 {
				continue
			}
			d := diffEntry{Path: p, Type: fb.Type, SizeBefore: fa.Size, SizeAfter: fb.Size, SizeDelta: fb.Size - fa.Size, Changes: changes}
			sum.SizeDelta += d.SizeDelta
			if slices.ContainsFunc(changes, func(c string) bool { return c == "content" || c == "type" || c == "link" }) {
				sum.Changed = append(sum.Changed, d)
			} else {
				sum.Metadata = append(sum.Metadata, d)
				sum.MetadataCount++
			}
		}
	}
	return sum
}

func sortedPaths(a, b *snapshotIndex) []string {
	paths := make([]string, 0, len(b.files))
	for p := range a.files {
		paths = append(paths, p)
	}
	for p := range b.files {
		if a.files[p] == nil {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return paths
}

func changesOf(a, b *snapshotIndex, fa, fb *manifest.File) []string {
	var c []string
	add := func(differ bool, what string) {
		if differ {
			c = append(c, what)
		}
	}
	add(fa.Type != fb.Type, "type")
	add(fa.Type == fb.Type && (fa.Size != fb.Size || !slices.Equal(a.body(fa), b.body(fb))), "content")
	add(fa.Link != fb.Link, "link")
	add(fa.Mode != fb.Mode, "mode")
	add(fa.UID != fb.UID || fa.GID != fb.GID, "owner")
	add(fa.MTime != fb.MTime, "mtime")
	return c
}

// printDiff writes one line per path, "+" added, "-" removed, "M" changed
// (content, type or link target) and "U" metadata only, then the totals.
func printDiff(e *env, sum *diffSummary) {
	var lines []struct {
		path, text string
	}
	add := func(mark string, list []diffEntry, detail func(d diffEntry) string) {
		for _, d := range list {
			lines = append(lines, struct{ path, text string }{d.Path, fmt.Sprintf("%s %s  (%s)", mark, d.Path, detail(d))})
		}
	}
	add("+", sum.Added, func(d diffEntry) string { return d.Type + ", " + humanBytes(d.SizeAfter) })
	add("-", sum.Removed, func(d diffEntry) string { return d.Type + ", " + humanBytes(d.SizeBefore) })
	add("M", sum.Changed, func(d diffEntry) string { return strings.Join(d.Changes, ", ") + ", " + signedBytes(d.SizeDelta) })
	add("U", sum.Metadata, func(d diffEntry) string { return strings.Join(d.Changes, ", ") })
	slices.SortStableFunc(lines, func(x, y struct{ path, text string }) int { return strings.Compare(x.path, y.path) })
	for _, l := range lines {
		fmt.Fprintln(e.ui.stdout, l.text)
	}
	fmt.Fprintf(e.ui.stdout, "%s → %s: %d added, %d removed, %d changed, %d with only metadata changed; files %s; %s added to the repository by %s\n",
		sum.A, sum.B, len(sum.Added), len(sum.Removed), len(sum.Changed), sum.MetadataCount, signedBytes(sum.SizeDelta), humanBytes(sum.AddedBytes), sum.B)
}

// signedBytes formats a size change: +1.5 KiB, -200 B, ±0 B.
func signedBytes(n int64) string {
	switch {
	case n > 0:
		return "+" + humanBytes(n)
	case n < 0:
		return "-" + humanBytes(-n)
	}
	return "±0 B"
}
