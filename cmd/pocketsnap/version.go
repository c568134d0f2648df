package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Stamped by release builds (scripts/release) with -ldflags -X. version
// is `git describe`; commit and commitTime only where the Go toolchain
// cannot stamp vcs.revision and vcs.time itself (a linked git worktree,
// whose .git is a file Go does not recognise). The build information
// wins whenever it has them.
var (
	version    = ""
	commit     = ""
	commitTime = ""
)

// buildVersion is what `pocketsnap version` reports.
type buildVersion struct {
	Version    string // release tag, module version or "(devel)"
	Commit     string // full revision, "" when unknown
	CommitTime string // RFC 3339, "" when unknown
	Modified   bool   // built from a tree with uncommitted changes
}

// readBuildVersion reads the version from the linker stamps and the
// build information (vcs.revision, vcs.time, vcs.modified).
func readBuildVersion() buildVersion {
	v := buildVersion{Version: version, Commit: commit, CommitTime: commitTime}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v.orDevel()
	}
	if v.Version == "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.CommitTime = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v.orDevel()
}

func (v buildVersion) orDevel() buildVersion {
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}

// String is one line: version, commit, commit time, Go version and
// target, e.g. "pocketsnap v0.3.0 (commit 0123456789ab, 2026-12-06T20:16:12Z) go1.26.8 android/arm64".
func (v buildVersion) String() string {
	src := "commit unknown"
	if v.Commit != "" {
		src = "commit " + v.Commit[:min(12, len(v.Commit))]
		if v.Modified {
			src += "+modified"
		}
		if v.CommitTime != "" {
			src += ", " + v.CommitTime
		}
	}
	return fmt.Sprintf("pocketsnap %s (%s) %s %s/%s", v.Version, src, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// versionString is the one-line version recorded in snapshots and printed
// by `pocketsnap version`.
func versionString() string { return readBuildVersion().String() }
