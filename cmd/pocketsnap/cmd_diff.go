package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

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
			"pocketsnap diff db-20261128T040000Z db-20261129T040000Z --metadata   # also entries whose mode, owner or mtime alone changed (marked U)",
			"pocketsnap diff db-20261128T040000Z db-20261129T040000Z --json | jq -r '.changed[] | select(.size_delta > 0) | .path'",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.BoolVar(&o.metadata, "metadata", false, "also list entries whose content is the same but mode, owner or mtime changed")
			return func(ctx context.Context, e *env, args []string) error { return runDiff(ctx, e, o, args) }
		},
	}
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
	a, _, err := openDetails(s, args[0])
	if err != nil {
		return err
	}
	b, _, err := openDetails(s, args[1])
	if err != nil {
		return err
	}
	sum, err := manifest.Compare(a, b)
	if err != nil {
		return err
	}
	if !o.metadata {
		sum.Metadata = nil
	}
	printDiff(e, sum)
	e.ui.summary(sum)
	return nil
}

// printDiff writes one line per path, "+" added, "-" removed, "M" changed
// (content, type or link target) and "U" metadata only, then the totals.
func printDiff(e *env, sum *manifest.Diff) {
	var lines []struct {
		path, text string
	}
	add := func(mark string, list []manifest.Change, detail func(d manifest.Change) string) {
		for _, d := range list {
			lines = append(lines, struct{ path, text string }{d.Path, fmt.Sprintf("%s %s  (%s)", mark, d.Path, detail(d))})
		}
	}
	add("+", sum.Added, func(d manifest.Change) string { return d.Type + ", " + humanBytes(d.SizeAfter) })
	add("-", sum.Removed, func(d manifest.Change) string { return d.Type + ", " + humanBytes(d.SizeBefore) })
	add("M", sum.Changed, func(d manifest.Change) string { return strings.Join(d.Changes, ", ") + ", " + signedBytes(d.SizeDelta) })
	add("U", sum.Metadata, func(d manifest.Change) string { return strings.Join(d.Changes, ", ") })
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
