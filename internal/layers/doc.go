// Package layers holds the test that enforces the import layering of
// pocketsnap's packages: the stores never depend on what sits above them,
// and only cmd/pocketsnap knows about flags, env files and terminals.
package layers
