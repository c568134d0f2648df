// Package chunkstore stores content-addressed blobs in age-encrypted packs
// on a local filesystem.
//
// A repository is a directory. Blobs (pieces of a snapshot's tar stream) are
// compressed as one zstd frame each, grouped into packs of a few MiB, and
// each pack is encrypted once to the repository's age recipients and written
// atomically under its SHA-256 (temp file, fsync, rename). A blob's ID is a
// keyed hash of its plaintext under a per-repository secret, so the names
// and digests the store keeps reveal nothing about content to anyone who
// does not hold the secrets.
//
// # Layout
//
//	config              repository parameters, plaintext JSON ([Config])
//	keys/secrets.age    the [Keys], encrypted to the recipients
//	data/<xx>/<id>      packs, named by the SHA-256 of their stored bytes
//	snapshots/<name>    snapshot manifests (written by package manifest)
//	local/              device state, never uploaded: the plaintext keys
//	                    (0600), the blob index, files caches, the lock
//
// The store works with only the recipients: it can add blobs, deduplicate
// against the index, verify stored objects against their names and delete
// packs. Reading a blob back needs an age identity ([Store.SetIdentities]).
//
// The format is specified normatively in doc/format.md.
//
// The API is not stable before v1.
package chunkstore
