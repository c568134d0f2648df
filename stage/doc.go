// Package stage takes a consistent view of a stopped database directory in
// a fraction of the time a full read takes, so the service can be started
// again before the view is backed up.
//
// Immutable files (RocksDB's SSTs and blob files) are hard-linked into a
// staging directory beside the source, on the same filesystem; every other
// file is copied with its metadata (mode, owner when root, mtime to the
// nanosecond, xattrs) and directories are recreated with theirs. Walking
// the staged view therefore gives the same tar stream as walking the
// stopped source. Where a hard link is impossible (another filesystem, not
// permitted) staging falls back to copying.
//
// The API is not stable before v1.
package stage
