package job

import (
	"fmt"
	"io"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
)

// CompatOptions ask a backup for the classic archive of its snapshot,
// written from the frames of the snapshot's stream in the same pass.
type CompatOptions struct {
	// BackupDir is BACKUP_DIR: the archive goes to BackupDir/KIND/. It
	// must be outside the repository.
	BackupDir string
	// PartSize is the largest file of the archive (see compat.Options).
	PartSize int64
}

// compatArchive is the classic archive a backup writes. Its name holds the
// snapshot's stamp, which the backup chooses, so it is written under a
// temporary name and committed once the snapshot is saved. Its methods do
// nothing on a nil compatArchive (no archive asked for).
type compatArchive struct {
	w         *compat.Writer
	encrypted bool
}

// startCompat starts the classic archive of a backup of kind into s, if
// opt asks for one. It is encrypted to the repository's recipients, which
// needs no identity.
func startCompat(s *chunkstore.Store, kind string, opt *CompatOptions) (*compatArchive, error) {
	if opt == nil {
		return nil, nil
	}
	dir := compat.Dir(opt.BackupDir, kind)
	if err := compat.OutsideRepo(dir, s.Dir()); err != nil {
		return nil, err
	}
	c := &compatArchive{encrypted: s.Codec().Encrypted()}
	copt := compat.Options{PartSize: opt.PartSize}
	if c.encrypted {
		copt.Seal = s.Codec()
	}
	var err error
	c.w, err = compat.NewWriter(dir, copt)
	return c, err
}

// frames is the writer for pipeline.Options.Frames: nil without archive.
func (c *compatArchive) frames() io.Writer {
	if c == nil {
		return nil
	}
	return c.w
}

// abort removes what was written of an archive not committed.
func (c *compatArchive) abort() {
	if c != nil {
		c.w.Abort()
	}
}

// commit puts the archive in place under the saved snapshot's name.
func (c *compatArchive) commit(snapshot string) (*compat.Written, error) {
	if c == nil {
		return nil, nil
	}
	w, err := c.w.Commit(compat.FileName(snapshot, c.encrypted))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s saved, but its classic archive could not be written: %w", snapshot, err)
	}
	return w, nil
}
