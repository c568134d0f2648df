// Package remote keeps a copy of a repository in an S3-compatible bucket
// and reads it back.
//
// The bucket holds the repository's objects under the same names as the
// repository directory (config, keys/secrets.age, data/xx/<id>,
// snapshots/<name>), below an optional prefix, and the classic archives
// under archives/<kind>/. Nothing of the device's local/ directory is ever
// uploaded: the bucket holds only what is encrypted to the recipients or
// public by design.
//
// [Push] uploads what the bucket lacks, packs before the manifests that
// need them, so the bucket never shows a snapshot whose packs are missing;
// an interrupted push resumes without sending a finished object again,
// because it lists the bucket first. [Prune] then applies the retention
// policy to the bucket: manifests first, then the packs no kept snapshot
// needs. [Bucket.FS] gives read access to the bucket as a file system,
// fetching byte ranges, so a chunkstore.Store opened on it restores and
// exports straight from the bucket; [Adopt] turns a bucket into the
// repository of a new device.
//
// Every object is sent with a single PUT (objects are a few MiB by
// construction) carrying a Content-MD5 the server verifies. The secret
// key is used only to sign requests: it appears in no URL, log line or
// error.
package remote
