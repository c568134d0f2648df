package main

import (
	"time"

	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/extract"
	"github.com/pocketsnap/pocketsnap/restore"
)

// The --json summaries of restore, export and verify-archive.

// restoreSummary is the summary of a restore into a directory.
type restoreSummary struct {
	Snapshot   string `json:"snapshot,omitempty"`
	Archive    string `json:"archive,omitempty"`
	Target     string `json:"target"`
	Entries    int    `json:"entries"`
	Files      int    `json:"files"`
	Dirs       int    `json:"dirs"`
	Symlinks   int    `json:"symlinks"`
	Hardlinks  int    `json:"hardlinks"`
	Bytes      int64  `json:"bytes"`
	DurationMS int64  `json:"duration_ms"`
}

func newRestoreSummary(target string, st extract.Stats, start time.Time) restoreSummary {
	return restoreSummary{Target: target, Entries: st.Entries, Files: st.Files, Dirs: st.Dirs, Symlinks: st.Symlinks,
		Hardlinks: st.Hardlinks, Bytes: st.Bytes, DurationMS: time.Since(start).Milliseconds()}
}

// planSummary is the summary of a whole-system restore: its plan, and
// whether it was carried out.
type planSummary struct {
	Done  bool       `json:"done"`
	Steps []planStep `json:"steps"`
}

type planStep struct {
	Kind   string    `json:"kind"`
	Source string    `json:"source"`
	Taken  time.Time `json:"taken"`
	Size   int64     `json:"size"`
	Target string    `json:"target"`
	// MovedAside is where the live directory goes, when there is one.
	MovedAside string `json:"moved_aside,omitempty"`
}

func newPlanSummary(pv restore.Preview, done bool) planSummary {
	sum := planSummary{Done: done, Steps: []planStep{}}
	for _, st := range pv.Steps {
		sum.Steps = append(sum.Steps, planStep{Kind: st.Kind, Source: st.Source, Taken: st.Taken, Size: st.Size, Target: st.Target, MovedAside: st.MovedAside})
	}
	return sum
}

// archiveSummary is the summary of export and verify-archive: a classic
// archive and its sidecar.
type archiveSummary struct {
	Snapshot string   `json:"snapshot,omitempty"`
	Path     string   `json:"path"`
	Files    []string `json:"files"`
	Sidecars []string `json:"sidecars"`
	Size     int64    `json:"size"`
	SHA256   string   `json:"sha256,omitempty"`
	// ContentChecked is set when verify-archive decompressed and read the
	// archive to its end (decrypting it when encrypted).
	ContentChecked bool  `json:"content_checked,omitempty"`
	Encrypted      bool  `json:"encrypted"`
	Entries        int   `json:"entries,omitempty"`
	DurationMS     int64 `json:"duration_ms,omitempty"`
}

func writtenSummary(snapshot string, w *compat.Written, encrypted bool, start time.Time) archiveSummary {
	sidecars := []string{w.Sidecar}
	if w.PlainSidecar != "" {
		sidecars = append(sidecars, w.PlainSidecar)
	}
	return archiveSummary{Snapshot: snapshot, Path: w.Path, Files: w.Files, Sidecars: sidecars, Size: w.Size,
		SHA256: w.SHA256, Encrypted: encrypted, DurationMS: time.Since(start).Milliseconds()}
}
