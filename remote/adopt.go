package remote

import (
	"context"
	"fmt"

	"filippo.io/age"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// Open opens the repository in the bucket for reading, through fsys (see
// [Bucket.FS]). keys, when not nil, are the device's secrets, checked to
// be the bucket's repository's; without them the secrets are decrypted
// with the identities, as on a new device.
func Open(fsys *FS, keys *chunkstore.Keys, ids []age.Identity) (*chunkstore.Store, error) {
	s, err := chunkstore.OpenFS(fsys, keys)
	if err != nil {
		return nil, err
	}
	s.SetIdentities(ids)
	return s, nil
}

// Adopt makes the repository in the bucket this device's: it creates a
// repository in dir with the bucket's config and secrets (decrypted with
// the identities) and records the bucket's packs, read from their
// trailers, so that later backups deduplicate against them and pushes send
// only what is new. It downloads the start and end of every pack, nothing
// else. accept, if not nil, is asked about the bucket's repository once
// its secrets are decrypted (to check its fingerprint) and nothing is
// written unless it returns nil.
func Adopt(ctx context.Context, b *Bucket, dir string, ids []age.Identity, accept func(*chunkstore.Store) error) (*chunkstore.Store, error) {
	fsys, err := b.FS(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	src, err := Open(fsys, nil, ids)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	defer src.Close()
	if err := src.CheckIdentity(); err != nil {
		return nil, err
	}
	if accept != nil {
		if err := accept(src); err != nil {
			return nil, err
		}
	}
	ix, err := src.Index()
	if err != nil {
		return nil, fmt.Errorf("%s: failed to read the packs' tables: %w", b, err)
	}
	s, err := chunkstore.Clone(dir, src)
	if err != nil {
		return nil, err
	}
	if err := s.Adopt(ix.Packs()); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
