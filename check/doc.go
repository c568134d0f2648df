// Package check verifies a repository.
//
// [Run] looks at a repository the way a restore would need it and returns
// a [Result] that names every problem it found: a blob a snapshot needs
// that no pack holds, a pack that is missing, a pack whose bytes do not
// hash to its name, a snapshot's manifest that is truncated, altered or
// forged, a blob that does not decrypt or authenticate. Each
// [Problem] names the object at fault and the snapshots that need it.
//
// Without [Options.ReadData], only references are checked: every blob a
// snapshot references is indexed in a pack that exists. With it, every
// pack is also re-read and re-hashed, which needs only the recipient; with
// [Options.Decrypt] (the identity is loaded, or the repository is not
// encrypted) every blob is also decrypted and verified.
//
// The package reports and never prints: front ends render the result as
// text or JSON and map it to exit codes.
//
// The API is not stable before v1.
package check
