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
	"github.com/pocketsnap/pocketsnap/internal/tree"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// Into restores src into target, which must not exist or be an empty
// directory. Staging directories of target that a killed restore left
// behind are removed first, saying so on log. Restoring a snapshot of an
// encrypted repository needs the identity.
func Into(ctx context.Context, src Source, target string, opt extract.Options, log io.Writer) (extract.Stats, error) {
	if err := checkTarget(target); err != nil {
		return extract.Stats{}, err
	}
	if err := CleanStaging(target, log); err != nil {
		return extract.Stats{}, err
	}
	now := freeStamp([]string{target}, time.Now())
	staging, st, err := Stage(ctx, src, StagingPath(target, stamp(now)), opt)
	if err != nil {
		return st, err
	}
	err = os.Remove(target)
	if err == nil || os.IsNotExist(err) {
		err = os.Rename(staging.Tree(), target)
	}
	if err != nil {
		return st, errors.Join(fmt.Errorf("failed to move the restored tree into %s: %w", target, err), staging.Remove())
	}
	return st, staging.Done(staging.Dir())
}

// Source is what a restore reads: a snapshot of a repository, or a tar
// stream (a classic archive, already decrypted and decompressed) with a
// check to run once it has been read to its end.
type Source struct {
	Store *chunkstore.Store
	// Manifest is the snapshot to restore whole.
	Manifest *manifest.Manifest

	Stream io.Reader
	// Verify runs after Stream has been read to EOF; an error discards the
	// staged tree.
	Verify func() error
	// Label names the stream in messages.
	Label string
	// Root, for a Stream, is the directory its members lie under (see
	// extract.Options.Root); a snapshot's manifest says it itself.
	Root string
	// Progress, if not nil, counts the stream bytes read.
	Progress *pipeline.Progress
}

// Name describes the source in messages.
func (src Source) Name() string {
	if src.Manifest != nil {
		return src.Manifest.Name
	}
	return src.Label
}

// Stage extracts src into the new staging directory dir, locked by this
// process while it runs, and verifies it completely. On any failure the
// staging directory is removed; on success it is returned for the caller
// to move its tree into place.
func Stage(ctx context.Context, src Source, dir string, opt extract.Options) (*Staging, extract.Stats, error) {
	staging, err := newStaging(dir)
	if err != nil {
		return nil, extract.Stats{}, err
	}
	st, err := fill(ctx, src, staging.Tree(), opt)
	if err != nil {
		if rerr := staging.Remove(); rerr != nil {
			err = fmt.Errorf("%w (and %v)", err, rerr)
		}
		return nil, st, err
	}
	return staging, st, nil
}

func fill(ctx context.Context, src Source, dir string, opt extract.Options) (extract.Stats, error) {
	r, verify := src.Stream, src.Verify
	if src.Manifest != nil {
		if _, err := src.Manifest.Open(src.Store.Codec()); err != nil {
			return extract.Stats{}, fmt.Errorf("snapshot %s: %w", src.Manifest.Name, err)
		}
		sr := pipeline.NewStreamReader(ctx, src.Store, src.Manifest)
		defer sr.Close()
		r = sr
	}
	opt.Root = src.Root
	if src.Manifest != nil {
		opt.Root = src.Manifest.Details().Root
	}
	if src.Progress != nil {
		r = src.Progress.Reader(r)
	}
	st, err := extract.Extract(ctx, r, dir, opt)
	if err != nil {
		return st, err
	}
	// The tar reader stops at the end-of-archive marker; reading on to EOF
	// runs the whole-stream checks.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return st, err
	}
	if verify != nil {
		return st, verify()
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

// removeAll removes a partial tree, including directories extracted
// without write permission.
func removeAll(dir string) error {
	if err := tree.Remove(dir); err != nil {
		return fmt.Errorf("failed to remove partial restore %s: %w", dir, err)
	}
	return nil
}
