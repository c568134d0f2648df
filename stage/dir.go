package stage

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/tree"
)

// Suffix separates a source's path from its staging stamp:
// <src>.pocketsnap-staging-<UTC>.
const Suffix = ".pocketsnap-staging-"

// Path returns the staging directory of src for a run started at t: beside
// src, so on the same filesystem.
func Path(src string, t time.Time) string {
	return filepath.Clean(src) + Suffix + t.UTC().Format("20060102T150405.000000000Z")
}

// CleanStale removes the staging directories of src left behind by runs
// that crashed, and returns their paths.
func CleanStale(src string) ([]string, error) {
	found, err := filepath.Glob(filepath.Clean(src) + Suffix + "*")
	if err != nil {
		return nil, fmt.Errorf("failed to look for stale staging of %s: %w", src, err)
	}
	var errs []error
	for _, dir := range found {
		errs = append(errs, Remove(dir))
	}
	return found, errors.Join(errs...)
}

// Remove deletes a staging directory, even one holding read-only
// directories.
func Remove(dir string) error {
	if err := tree.Remove(dir); err != nil {
		return fmt.Errorf("failed to remove staging directory %s: %w", dir, err)
	}
	return nil
}
