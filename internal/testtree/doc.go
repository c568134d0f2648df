// Package testtree checks backup round trips in tests: it generates realistic source trees and compares a restored tree with its source.
//
// [Generate] creates a deterministic tree holding every entry type a backup
// has to round-trip: regular files of several kinds (small, empty,
// incompressible, compressible, mostly zeros), deep and long paths, unusual
// names, special permission bits, symlinks, hardlinks, a fifo and mtimes with
// non-zero nanoseconds on every entry.
//
// [Compare] reports the first difference between two trees in bytewise path
// order, and [Hash] condenses a whole tree into one SHA-256 so a test can
// prove that a command left a tree untouched.
//
// The package uses Linux system calls and is only built on Linux.
package testtree
