// Package prune applies the retention policy, and collects the garbage it
// leaves, in the device's repository and in its bucket, by one rule set.
//
// A kind's snapshots, and its classic archives, are kept or dropped by
// [retention.Apply] with the same policy in both places; an incomplete
// snapshot, or an archive without both data and a sidecar, does not
// count towards a kind's count. Manifests (and archives, sidecars first)
// go before the packs they free, so an interrupted prune never leaves a
// snapshot without its data.
//
// [Bucket] prunes the bucket with a key that may only list, write and
// delete: it never reads an object there, and takes which packs are live
// from the device's own records (offsite's [offsite.Ledger] and its
// local manifests). Packs are never collected while the device cannot
// tell what some snapshot needs.
//
// The API is not stable before v1.
package prune
