package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/extract"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// StagingSuffix marks a directory being restored into; one left behind by
// a crash can be removed.
const StagingSuffix = ".restoring-"

// Snapshot restores the snapshot m into target, which must not exist or be
// an empty directory. It needs the identity of an encrypted repository.
func Snapshot(ctx context.Context, s *chunkstore.Store, m *manifest.Manifest, target string, opt extract.Options) (extract.Stats, error) {
	if _, err := m.Open(s.Codec()); err != nil {
		return extract.Stats{}, fmt.Errorf("snapshot %s: %w", m.Name, err)
	}
	if err := checkTarget(target); err != nil {
		return extract.Stats{}, err
	}
	staging := target + StagingSuffix + time.Now().UTC().Format(manifest.StampLayout)
	if err := os.Mkdir(staging, 0o700); err != nil {
		return extract.Stats{}, fmt.Errorf("failed to create staging directory: %w", err)
	}
	st, err := extractVerified(ctx, s, m, staging, opt)
	if err == nil {
		err = swapIn(staging, target)
	}
	if err != nil {
		return st, errors.Join(err, removeAll(staging))
	}
	return st, nil
}

func extractVerified(ctx context.Context, s *chunkstore.Store, m *manifest.Manifest, dir string, opt extract.Options) (extract.Stats, error) {
	r := pipeline.NewStreamReader(ctx, s, m)
	defer r.Close()
	st, err := extract.Extract(ctx, r, dir, opt)
	if err != nil {
		return st, err
	}
	// The tar reader stops at the end-of-archive marker; reading on to EOF
	// runs the whole-stream checks.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return st, err
	}
	return st, nil
}

func checkTarget(target string) error {
	ents, err := os.ReadDir(target)
	switch {
	case os.IsNotExist(err):
		if _, err := os.Stat(filepath.Dir(target)); err != nil {
			return fmt.Errorf("target's parent directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("target %s: %w", target, err)
	case len(ents) > 0:
		return fmt.Errorf("target %s is not empty", target)
	}
	return nil
}

// swapIn renames the verified staging directory to target, replacing an
// empty target directory.
func swapIn(staging, target string) error {
	if err := os.Remove(target); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("failed to replace %s: %w", target, err)
	}
	if err := os.Rename(staging, target); err != nil {
		return fmt.Errorf("failed to move restored tree into place: %w", err)
	}
	return nil
}

// removeAll removes a partial tree, including directories extracted
// without write permission.
func removeAll(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("failed to remove partial restore %s: %w", dir, err)
	}
	return nil
}
