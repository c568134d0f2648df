// Package offsite sends a repository's snapshots to its S3 bucket and
// keeps the device's record of what the bucket holds.
//
// [Push] uploads what the bucket lacks, each snapshot's packs before its
// manifest, so the bucket never shows a snapshot whose packs are missing.
// A push cut short by its upload cap (or by a network failure) resumes
// where it stopped: it lists the bucket first, and the packs it already
// sent for a snapshot whose manifest is not yet there belong to that push
// in progress (see [Ledger.Live]), so retention in the bucket keeps them.
//
// The device never needs to read the bucket: it tells its repository
// from another by the listed config object's size and ETag
// ([CheckIdentity]), and it records in its [Ledger] which packs each
// snapshot it made visible needs, so that retention in the bucket
// (package prune) needs only the permissions to list, write and delete.
//
// The transport itself (requests, retries, object names) is package
// remote. The API is not stable before v1.
package offsite
