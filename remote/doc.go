// Package remote is the transport to an S3-compatible bucket: it lists,
// uploads, reads byte ranges of and deletes objects, and names them.
//
// The bucket holds the repository's objects under the same names as the
// repository directory (config, keys/secrets.age, data/xx/<id>,
// snapshots/<name>), below an optional prefix, and the classic archives
// under [ArchivesDir]/<kind>/. Nothing of the device's local/ directory is
// ever uploaded: the bucket holds only what is encrypted to the
// recipients or public by design.
//
// [Bucket] is an objstore.Store: it retries what can be retried and names
// the bucket and object in its errors; [Bucket.FS] gives read access to the bucket as a file
// system, fetching byte ranges, so a chunkstore.Store opened on it
// restores and exports straight from the bucket; [Adopt] turns a bucket
// into the repository of a new device. What to send and what to delete is
// decided above it, by packages offsite and prune.
//
// Every object is sent with a single PUT carrying a Content-MD5 the server
// verifies, so an object of [MaxPutSize] or more is refused before
// anything is sent. The secret key is used only to sign requests: it
// appears in no URL, log line or error.
//
// The API is not stable before v1.
package remote
