package chunkstore

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// ObjectInfo names a stored pack and its size.
type ObjectInfo struct {
	ID   ID
	Size int64
}

// PackError is returned for a pack that is missing or whose stored bytes do
// not match its name.
type PackError struct {
	Pack ID
	Err  error
}

func (e *PackError) Error() string { return fmt.Sprintf("pack %s: %v", e.Pack, e.Err) }

func (e *PackError) Unwrap() error { return e.Err }

// ListPacks returns every pack stored in the repository (temporary files
// of interrupted writes are not packs).
func (s *Store) ListPacks() ([]ObjectInfo, error) {
	var out []ObjectInfo
	err := fs.WalkDir(s.fsys, dataDir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && name == dataDir {
				return nil
			}
			return err
		}
		if d.IsDir() || IsTemp(d.Name()) {
			return nil
		}
		id, err := ParseID(d.Name())
		if err != nil {
			return fmt.Errorf("unexpected file %s in the repository: %w", name, err)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, ObjectInfo{ID: id, Size: fi.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list packs: %w", err)
	}
	return out, nil
}

// HasPack reports whether the pack file exists.
func (s *Store) HasPack(id ID) bool {
	_, err := fs.Stat(s.fsys, PackName(id))
	return err == nil
}

// VerifyPack re-hashes a stored pack and compares the digest with its name.
// It needs no identity.
func (s *Store) VerifyPack(id ID) error { return s.VerifyPackSize(id, 0) }

// VerifyPackSize is [Store.VerifyPack] for a pack written with size stored
// bytes (as the index records it; 0 when unknown): when the digest does
// not match, the error also says whether bytes were cut off or appended.
func (s *Store) VerifyPackSize(id ID, size int64) error {
	f, err := s.fsys.Open(PackName(id))
	if errors.Is(err, fs.ErrNotExist) {
		return &PackError{Pack: id, Err: ErrMissing}
	}
	if err != nil {
		return &PackError{Pack: id, Err: err}
	}
	defer f.Close()
	if err := checkPackHash(f, id); err != nil {
		if fi, serr := f.Stat(); serr == nil && size > 0 {
			err = sizeDamage(err, fi.Size(), size)
		}
		return &PackError{Pack: id, Err: err}
	}
	return nil
}

// sizeDamage adds to a pack's digest mismatch what its size tells.
func sizeDamage(err error, stored, written int64) error {
	switch {
	case stored > written:
		return fmt.Errorf("%w: %d bytes were appended after its end (%d bytes stored, %d written)", err, stored-written, stored, written)
	case stored < written:
		return fmt.Errorf("%w: truncated (%d of the %d bytes written are left)", err, stored, written)
	}
	return err
}

// checkPackHash reads a pack's stored bytes and compares their SHA-256
// with its name.
func checkPackHash(r io.Reader, id ID) error {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("failed to read: %w", err)
	}
	var got ID
	h.Sum(got[:0])
	if got != id {
		return fmt.Errorf("%w: stored bytes hash to %s", ErrCorrupt, got)
	}
	return nil
}
