// Package manifest encodes, stores and selects snapshot manifests.
//
// A manifest records one snapshot: the ordered list of blobs whose
// concatenation is the snapshot's tar stream, a file index, and the
// stream's digest. It has two parts. The public part (name, kind, time,
// sizes, the sorted set of blob IDs referenced) is readable with only the
// repository's recipient, because retention, garbage collection and check
// run on a device that cannot decrypt. The private part (the stream order,
// file names, sizes, the digest) is zstd-compressed and encrypted to the
// recipients. The whole manifest is authenticated with an HMAC under the
// repository's MAC key, so a party holding only the (public) recipient
// cannot forge or alter one.
//
// The encoding is specified in doc/format.md.
//
// The API is not stable before v1.
package manifest
