package objstore

import (
	"context"
	"io"
)

// Store holds named objects.
type Store interface {
	// List returns every object's size, by name.
	List(ctx context.Context) (map[string]int64, error)
	// Stat returns an object's size.
	Stat(ctx context.Context, name string) (int64, error)
	// ReadRange reads length bytes of an object from off; a range past
	// the object's end is an error.
	ReadRange(ctx context.Context, name string, off, length int64) ([]byte, error)
	// Put stores size bytes read from src as the object, replacing any
	// with that name; readers see the old object or the new, whole.
	// sent, if not nil, is told of the bytes as they are stored.
	Put(ctx context.Context, name string, src io.ReaderAt, size int64, sent func(int64)) error
	// Remove deletes an object; a missing one is not an error.
	Remove(ctx context.Context, name string) error
}
