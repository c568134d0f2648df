// Package compat writes and checks classic archives: a snapshot's tar
// stream as <kind>-<UTC>.tar.zst[.age] with a sha256sum sidecar, split into
// parts below the single-PUT limit when large.
//
// Classic archives are what the shell scripts pocketsnap replaces wrote,
// and what users who trust only tar restore from: `sha256sum -c`,
// `age -d` and `tar --zstd -xf` are all it takes. pocketsnap writes them
// from the zstd frames of a snapshot (on export, or during a backup), so
// the .tar.zst is the snapshot's stream byte for byte, never recompressed.
//
// # Names
//
// An archive of the snapshot <kind>-<stamp> lives in a directory of its
// kind (by default ${BACKUP_DIR}/<kind>) and is made of:
//
//	<kind>-<stamp>.tar.zst           the archive (zstd frames of the tar stream)
//	<kind>-<stamp>.tar.zst.age       or the same, age-encrypted
//	<archive>.sha256                 its sidecar: "<hex>  <basename>\n" lines
//	<archive>.part-000, -001, …      instead of <archive>, when it is larger
//	                                 than the part size (the sidecar then has
//	                                 a line per part and one for the whole)
//
// The stamp is [manifest.StampLayout]. [List] finds every archive of a kind
// in a directory with all of these companions, for retention to remove
// together; the old scripts' plaintext sidecar of an encrypted archive
// (<kind>-<stamp>.tar.zst.sha256 beside <kind>-<stamp>.tar.zst.age) is one
// of them.
//
// # Writing
//
// A [Writer] takes the .tar.zst bytes, encrypts them when given a [Sealer],
// and writes them to temporary files (named [TempPrefix]…, locked with
// flock(2) while being written) in the target directory. [Writer.Commit]
// fsyncs them, writes the sidecar and renames everything into place, so an
// archive either exists complete under its final names or not at all.
// Temporary files left by a killed writer are removed by the next Writer
// in the same directory, or by [RemoveStale].
//
// # Checking
//
// [Verify] checks an archive (or its parts) against its sidecar and, when
// it can read it (unencrypted, or with the identity), that it decrypts,
// that the zstd stream is valid and that the tar stream is well-formed to
// its end. [Open] reads an archive's tar stream with the same checks, for
// restoring from one. Both accept archives written by the old scripts
// (`tar --zstd -cf` and `sha256sum`).
//
// The API is not stable before v1.
package compat
