package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// Options say which snapshot to export, and where to.
type Options struct {
	// Snapshot is the snapshot to export: a name or a unique prefix.
	// When empty, the newest complete snapshot of Kind at or before At.
	Snapshot string
	// Kind and At select the snapshot when Snapshot is empty; a zero At
	// means now.
	Kind string
	At   time.Time

	// Out is where the archive goes: a file, or a directory to put it in
	// (an existing one, or one ending in a slash). When empty, it goes in
	// compat.Dir(BackupDir, kind), which must not be the repository.
	Out       string
	BackupDir string
	// Stdout, when set, receives the archive instead of a file: no
	// sidecar, no parts, and no way to take back what was written if the
	// export fails.
	Stdout io.Writer

	// Plain writes a plaintext .tar.zst even from an encrypted repository.
	Plain bool
	// PartSize is the largest file of the archive (compat.Options).
	PartSize int64

	// Reporter hears what the user should know while the export runs;
	// nil hears nothing.
	Reporter Reporter
}

// Reporter is told what an export does while it runs. Its methods are
// called from the goroutine that called [Run].
type Reporter interface {
	// Info reports a detail: a snapshot passed over when selecting by kind.
	Info(msg string)
	// Warn reports something the archive's user should know: a snapshot
	// that was incomplete when it was taken.
	Warn(msg string)
	// Copying is called once, when the archive starts being written, with
	// the stored frame bytes it will copy (0 when the index cannot say) and
	// the counter of those copied so far; Run calls the function it
	// returns when copying ends.
	Copying(snapshot string, total int64, p *pipeline.Progress) (done func())
}

// Result describes a finished export.
type Result struct {
	// Snapshot is the name of the snapshot exported.
	Snapshot string
	// Encrypted tells whether the archive is age-encrypted.
	Encrypted bool
	// Archive describes the files written; nil when writing to Stdout.
	Archive *compat.Written
	// Bytes is the size of the .tar.zst: the frames copied, before any
	// encryption (Archive.Size is what the files hold).
	Bytes int64
	// Duration is how long the export took, from selecting the snapshot.
	Duration time.Duration
}

// Run exports a snapshot of s (opened with the identity, when encrypted)
// as opt says. The archive is written, and its files put in place, only
// once every blob and the whole stream are verified; a failure leaves
// nothing under the archive's names (except on Stdout, where what was
// written stays written and the error says it is incomplete).
func Run(ctx context.Context, s *chunkstore.Store, opt Options) (*Result, error) {
	rep := opt.Reporter
	if rep == nil {
		rep = nopReporter{}
	}
	start := time.Now()
	m, err := selectSnapshot(s, opt, rep)
	if err != nil {
		return nil, err
	}
	if _, err := m.Open(s.Codec()); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
	}
	if m.Incomplete {
		rep.Warn(fmt.Sprintf("snapshot %s is incomplete: some files were not read in full when it was taken", m.Name))
	}
	var seal compat.Sealer
	if s.Codec().Encrypted() && !opt.Plain {
		seal = s.Codec()
	}
	res := &Result{Snapshot: m.Name, Encrypted: seal != nil}
	if opt.Stdout != nil {
		err = toWriter(ctx, s, m, seal, opt.Stdout, res)
	} else {
		err = toFile(ctx, s, m, seal, opt, rep, res)
	}
	if err != nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// toFile writes the archive and its sidecar, in parts if need be, all
// under temporary names until they are complete.
func toFile(ctx context.Context, s *chunkstore.Store, m *manifest.Manifest, seal compat.Sealer, opt Options, rep Reporter, res *Result) error {
	path, err := ArchivePath(s, opt.Out, opt.BackupDir, m.Name, seal != nil)
	if err != nil {
		return err
	}
	if err := compat.CheckFree(path); err != nil {
		return err
	}
	w, err := compat.NewWriter(filepath.Dir(path), compat.Options{PartSize: opt.PartSize, Seal: seal})
	if err != nil {
		return err
	}
	defer w.Abort()
	fr := pipeline.NewFrameReader(ctx, s, m)
	defer fr.Close()
	prog := new(pipeline.Progress)
	done := rep.Copying(m.Name, FrameBytes(s, m), prog)
	res.Bytes, err = io.CopyBuffer(w, prog.Reader(fr), make([]byte, copyBufSize))
	done()
	if err == nil {
		res.Archive, err = w.Commit(filepath.Base(path))
	}
	if err != nil {
		return fmt.Errorf("export of %s failed, nothing was written to %s: %w", m.Name, path, err)
	}
	return nil
}

// copyBufSize is how much of the archive an export copies at a time:
// enough that the archive writer encrypts and hashes it straight from the
// copy buffer, without gathering it in its own buffer first.
const copyBufSize = 1 << 20

// toWriter writes the archive to out, encrypted when seal is set.
func toWriter(ctx context.Context, s *chunkstore.Store, m *manifest.Manifest, seal compat.Sealer, out io.Writer, res *Result) error {
	fr := pipeline.NewFrameReader(ctx, s, m)
	defer fr.Close()
	err := func() (err error) {
		if seal == nil {
			res.Bytes, err = io.Copy(out, fr)
			return err
		}
		sw, err := seal.Seal(out)
		if err != nil {
			return err
		}
		if res.Bytes, err = io.Copy(sw, fr); err != nil {
			return err
		}
		return sw.Close()
	}()
	if err != nil {
		return fmt.Errorf("export of %s to stdout failed (the output is incomplete): %w", m.Name, err)
	}
	return nil
}

// FrameBytes is the size of the stored frames of m's stream, which an
// export copies: the total its progress counts towards (issue 18.19); 0
// when the index cannot say.
func FrameBytes(s *chunkstore.Store, m *manifest.Manifest) int64 {
	ix, err := s.Index()
	if err != nil {
		return 0
	}
	var n int64
	for _, id := range m.StreamIDs() {
		loc, ok := ix.Lookup(id)
		if !ok {
			return 0
		}
		n += int64(loc.Length)
	}
	return n
}

// selectSnapshot resolves the snapshot to export: by name, or the newest
// complete one of opt.Kind at or before opt.At.
func selectSnapshot(s *chunkstore.Store, opt Options, rep Reporter) (*manifest.Manifest, error) {
	if opt.Snapshot != "" {
		name, err := manifest.Resolve(s, opt.Snapshot)
		if err != nil {
			return nil, err
		}
		return manifest.Load(s, name)
	}
	if opt.Kind == "" {
		return nil, errors.New("export needs a snapshot, or a kind")
	}
	at := opt.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	list, damaged, err := manifest.ListValid(s)
	if err != nil {
		return nil, err
	}
	m, skipped, err := manifest.SelectValid(list, damaged, opt.Kind, at)
	for _, c := range skipped {
		rep.Info(fmt.Sprintf("passed over %s: %s", c.Name, c.Skipped))
	}
	return m, err
}

type nopReporter struct{}

func (nopReporter) Info(string)                                      {}
func (nopReporter) Warn(string)                                      {}
func (nopReporter) Copying(string, int64, *pipeline.Progress) func() { return func() {} }
