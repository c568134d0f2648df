package main

import (
	"regexp"
	"testing"
)

// Issue 21.1: `pocketsnap version` names the commit and its time from the
// build information; where only linker stamps exist (a release built in a
// git worktree) those are used.
func TestVersionStringNamesCommitAndTime(t *testing.T) {
	defer func(v, c, ct string) { version, commit, commitTime = v, c, ct }(version, commit, commitTime)
	version, commit, commitTime = "v1.2.3", "0123456789abcdef0123456789abcdef01234567", "2026-12-06T20:16:12Z"
	got := versionString()
	want := regexp.MustCompile(`^pocketsnap v1\.2\.3 \(commit 0123456789ab, 2026-12-06T20:16:12Z\) go\S+ \S+/\S+$`)
	if !want.MatchString(got) {
		t.Errorf("versionString() = %q, want it to match %s", got, want)
	}
	version, commit, commitTime = "", "", ""
	if got := versionString(); !regexp.MustCompile(`^pocketsnap \S+ \(commit unknown\) `).MatchString(got) {
		t.Errorf("without stamps or vcs information versionString() = %q, want it to say the commit is unknown", got)
	}
}
