// Package fsync makes directory changes durable: after a rename or a
// create, the directory itself must be fsynced for the new name to
// survive a power cut.
package fsync

import (
	"fmt"
	"os"
)

// Dir fsyncs a directory.
func Dir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("failed to sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("failed to sync directory %s: %w", dir, err)
	}
	return nil
}
