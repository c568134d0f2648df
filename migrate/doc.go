// Package migrate copies every snapshot of one repository into a new one
// with its own keys and recipients: how a plaintext repository becomes an
// encrypted one.
//
// Blob IDs are keyed by each repository's secrets, so a snapshot cannot
// be copied pack by pack: [Copy] reads each blob's stored frame, verified,
// from the old repository, files it under the ID the new repository's
// keys give its plaintext, and saves the snapshot's manifest under the
// same name, with the same time and file index. [Verify] then reads every
// snapshot back from the new repository (which needs its identity) and
// compares the SHA-256 of each plaintext stream with the one [Copy] read.
// Only after Verify may the old repository be removed.
//
// The API is not stable before v1.
package migrate
