package offsite

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/remote"
)

// ErrForeign is returned when the bucket holds another repository.
var ErrForeign = errors.New("the bucket holds a different repository")

// CheckIdentity refuses a bucket that holds another repository. It
// compares the listed config object's size and ETag with the device's
// config, so it needs no permission to read objects; only when the ETag
// is not the content's MD5 (a server encrypting with a KMS key) does it
// read the bucket's config to compare repository IDs. A bucket without a
// config passes.
func CheckIdentity(ctx context.Context, s *chunkstore.Store, b *remote.Bucket, listing map[string]remote.Object) error {
	obj, ok := listing[chunkstore.ConfigName]
	if !ok {
		return nil
	}
	local, err := os.ReadFile(s.Path(chunkstore.ConfigName))
	if err != nil {
		return err
	}
	if obj.MatchesContent(local) {
		return nil
	}
	raw, err := b.ReadFile(ctx, chunkstore.ConfigName)
	if errors.Is(err, remote.ErrDenied) {
		return fmt.Errorf("%w: %s's %s (%d bytes, ETag %s) is not this device's (%d bytes), and the key may not read it to compare repository IDs: %w",
			ErrForeign, b, chunkstore.ConfigName, obj.Size, obj.ETag, len(local), err)
	}
	if err != nil {
		return err
	}
	cfg, err := chunkstore.ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("%s: invalid %s: %w", b, chunkstore.ConfigName, err)
	}
	if cfg.ID != s.Config().ID {
		return fmt.Errorf("%w: %s holds repository %s, this device's is %s (use another S3_PREFIX or bucket)", ErrForeign, b, cfg.ID, s.Config().ID)
	}
	return nil
}
