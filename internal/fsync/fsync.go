// Package fsync writes files atomically and makes directory changes
// durable: after a rename or a create, the directory itself must be
// fsynced for the new name to survive a power cut.
package fsync

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// TempMarker is part of the name of every temporary file WriteAtomic
// writes; a crash can leave such files behind.
const TempMarker = ".tmp-"

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

// WriteAtomic writes a file at path through a temporary file in the same
// directory (its name holds TempMarker), fsyncs it, renames it into place
// and fsyncs the directory, so that path either keeps its old content or
// holds the complete new one. It creates the directory (0700) if needed.
func WriteAtomic(path string, perm os.FileMode, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("failed to create directory: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+TempMarker+"*")
	if err != nil {
		return fmt.Errorf("failed to create temporary file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// FAT through FUSE (an SD card) keeps no permission bits and does not
	// implement chmod: callers that need privacy check the filesystem.
	if err := f.Chmod(perm); err != nil && !errors.Is(err, syscall.ENOSYS) {
		return fmt.Errorf("failed to set mode of %s: %w", tmp, err)
	}
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("failed to sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("failed to close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("failed to rename into place: %w", err)
	}
	ok = true
	return Dir(dir)
}

// WriteFile is WriteAtomic for a byte slice.
func WriteFile(path string, perm os.FileMode, data []byte) error {
	return WriteAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
