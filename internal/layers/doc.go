// Package layers holds the test that enforces the import layering of
// pocketsnap's packages: the stores never depend on what sits above them,
// only cmd/pocketsnap knows about flags and terminals, and only config
// reads env files.
package layers
