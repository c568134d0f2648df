package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/offsite"
)

// names returns the manifests' names.
func names(list []*manifest.Manifest) []string {
	out := make([]string, len(list))
	for i, m := range list {
		out[i] = m.Name
	}
	return out
}

type snapshotsOptions struct {
	kind   string
	remote bool
}

func snapshotsCommand() *command {
	var o snapshotsOptions
	return &command{
		name: "snapshots", group: "Inspect and verify",
		summary: "list snapshots (needs only the recipient)",
		usage:   "snapshots [--kind KIND] [--json]",
		keys:    []string{"DATA_DIR", "BACKUP_DIR"},
		examples: []string{
			"pocketsnap snapshots",
			"pocketsnap snapshots --kind db --json | jq -r '.snapshots[-1].name'",
			"pocketsnap snapshots --remote      # what the bucket holds, newest of each kind last",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.StringVar(&o.kind, "kind", "", "only snapshots of `KIND`")
			fs.BoolVar(&o.remote, "remote", false, "list the snapshots in the bucket (${DATA_DIR}/secrets/offsite.env) instead")
			return func(ctx context.Context, e *env, args []string) error { return runSnapshots(ctx, e, o, args) }
		},
	}
}

// snapshotJSON is the --json form of a snapshot.
type snapshotJSON struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Time       time.Time `json:"time"`
	Size       int64     `json:"size"`
	AddedBytes int64     `json:"added_bytes"`
	Blobs      int       `json:"blobs"`
	Incomplete bool      `json:"incomplete"`
	// DowntimeMS is how long the database was stopped for the snapshot.
	DowntimeMS int64 `json:"downtime_ms,omitempty"`
}

// damagedJSON is the --json form of a manifest that does not load; kind
// and time are those its name gives, when it is named as a snapshot.
type damagedJSON struct {
	Name  string    `json:"name"`
	Kind  string    `json:"kind,omitempty"`
	Time  time.Time `json:"time,omitzero"`
	Error string    `json:"error"`
}

func runSnapshots(ctx context.Context, e *env, o snapshotsOptions, args []string) error {
	if len(args) > 0 {
		return usageErrorf("snapshots takes no arguments")
	}
	e.fromRemote = o.remote
	s, release, err := e.openLocked(ctx, false)
	if err != nil {
		return err
	}
	defer release()
	list, damaged, err := manifest.ListValid(s)
	if err != nil {
		return err
	}
	out := []snapshotJSON{}
	for _, m := range list {
		if o.kind == "" || m.Kind == o.kind {
			out = append(out, snapshotJSON{m.Name, m.Kind, m.Time, m.StreamSize, m.AddedBytes, len(m.Blobs), m.Incomplete, m.DowntimeMS})
		}
	}
	bad := []damagedJSON{}
	for _, d := range damaged {
		if kind, t, ok := d.Kind(); o.kind == "" || ok && kind == o.kind {
			bad = append(bad, damagedJSON{d.Name, kind, t, d.Err.Error()})
		}
	}
	for _, d := range bad {
		e.ui.warnf("snapshot %s is damaged and cannot be restored: %s (the others are not affected; 'pocketsnap check' lists every problem)", d.Name, d.Error)
	}
	e.ui.summary(struct {
		Snapshots []snapshotJSON `json:"snapshots"`
		Damaged   []damagedJSON  `json:"damaged"`
	}{out, bad})
	type row struct {
		t    time.Time
		line string
	}
	var rows []row
	for _, d := range bad {
		// Issue 17.5: a damaged manifest is listed, marked, among the others.
		kind, when := "?", "?"
		if !d.Time.IsZero() {
			kind, when = d.Kind, d.Time.Format("2006-01-02 15:04:05")
		}
		rows = append(rows, row{d.Time, fmt.Sprintf("%s\t%s\t%s\t?\t?\tDAMAGED\n", d.Name, kind, when)})
	}
	for _, m := range out {
		flag := ""
		if m.Incomplete {
			flag = "incomplete"
		}
		if m.DowntimeMS > 0 {
			flag = strings.TrimSpace(flag + " downtime " + (time.Duration(m.DowntimeMS) * time.Millisecond).String())
		}
		rows = append(rows, row{m.Time, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Kind, m.Time.Format("2006-01-02 15:04:05"), humanBytes(m.Size), humanBytes(m.AddedBytes), flag)})
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.t.Compare(b.t) })
	tw := tabwriter.NewWriter(e.ui.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tTIME (UTC)\tSIZE\tADDED\t")
	for _, r := range rows {
		fmt.Fprint(tw, r.line)
	}
	tw.Flush()
	if len(bad) > 0 {
		fmt.Fprintf(e.ui.stdout, "%d snapshots, %d damaged\n", len(out), len(bad))
	} else {
		fmt.Fprintf(e.ui.stdout, "%d snapshots\n", len(out))
	}
	if o.remote {
		newest := offsite.Newest(names(list))
		for _, kind := range slices.Sorted(maps.Keys(newest)) {
			fmt.Fprintf(e.ui.stdout, "newest %s in the bucket: %s\n", kind, newest[kind])
		}
	}
	return nil
}
