// Package pipeline turns a directory into a snapshot and a snapshot back
// into a tar stream.
//
// Backup walks the source in a fixed order and renders it as a
// deterministic PAX tar stream, cut at every entry: each entry's header
// bytes are one piece and its body (with padding) another, and bodies
// larger than the repository's small-body threshold are split further by
// content-defined chunking (restic/chunker, with the repository's secret
// polynomial). Pieces are hashed to keyed blob IDs and, when new,
// compressed and packed by a bounded pool of workers; the manifest is
// written last. An unchanged file (same path, size, mtime, ctime and inode
// as in the parent snapshot's files cache) reuses its blob IDs without
// being read.
//
// [NewStreamReader] runs the pipe backwards: it fetches, verifies and
// concatenates a snapshot's blobs into its tar stream; [NewEntryReader]
// does the same for some entries only, found through the file index.
//
// The API is not stable before v1.
package pipeline
