// Package export writes a snapshot of a repository as a classic archive,
// verifying every blob on the way.
//
// A classic archive (see package [compat] and doc/format.md, "Classic
// archives") is the snapshot's tar stream as a .tar.zst, age-encrypted to
// the repository's recipients unless asked for plaintext, with a
// sha256sum sidecar. [Run] builds it from the zstd frames the repository
// stores: each blob is decrypted, decompressed and checked against its
// keyed ID, and the stream against the manifest, but the frames
// themselves are written as stored, never recompressed, so the archive is
// the same bytes for the same snapshot on every run.
//
// [Run] takes typed [Options] (which snapshot, where to, encrypted or
// not), tells a [Reporter] what the user should know while it works, and
// returns a [Result] for the front end to render. It writes a file only
// through [compat.Writer], so a failed or killed export leaves nothing
// under an archive's name.
//
// The API is not stable before v1.
package export
