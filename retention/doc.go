// Package retention decides which snapshots of a kind to keep.
//
// It is pure: it looks at names, times and completeness only, and never
// touches a repository or a file. Callers group what they have by kind
// (snapshots in a repository, or classic archives in a directory), ask
// [Apply] for a [Decision] on each item under the kind's [Policy], and
// delete what is not kept.
//
// # Rules
//
// A [Policy] has a count rule, the newest Last complete snapshots (the old
// rotate-backups.sh's BACKUP_KEEP_DB and BACKUP_KEEP_ROOTFS), and restic's
// calendar rules: the newest complete snapshot of each of the newest Daily
// UTC days, Weekly ISO weeks and Monthly months that have one. A snapshot
// kept by any rule is kept. A policy without rules keeps everything.
//
// An incomplete snapshot (some files could not be read in full) never
// counts towards a rule. It is kept while fewer than max(Last, 1) kept
// complete snapshots are newer than it, so the freshest state of
// everything that could be read survives until complete snapshots have
// superseded it.
//
// Dropping what Apply does not keep never changes what it keeps: run again
// on the survivors, it keeps them all. A rotation interrupted halfway
// therefore finishes the same job when it is run again.
//
// The API is not stable before v1.
package retention
