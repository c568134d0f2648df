package compat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pocketsnap/pocketsnap/internal/fsync"
	"golang.org/x/sys/unix"
)

var errAborted = errors.New("archive writer aborted")

// part is one temporary file of an archive being written.
type part struct {
	f *os.File
	// h hashes the part, except the first, whose hash is the whole's
	// until a second part starts; sum is then the first part's digest.
	h   hash.Hash
	sum []byte
	n   int64
	// flushed is how much of the part's writeback has been started.
	flushed int64
}

// writebackChunk is how much of a part is written before its writeback
// to disk starts: the disk works while the archive is still being
// encrypted and hashed, instead of all at the final fsync.
const writebackChunk = 8 << 20

// splitter writes the stored bytes of an archive into temporary files of
// at most limit bytes each, hashing each and the whole.
type splitter struct {
	dir   string
	limit int64
	parts []*part
	whole hash.Hash
	size  int64
	// plain hashes the decrypted archive, when encrypting.
	plain hash.Hash

	sidecar   *os.File // the sidecar's temporary file, once written
	plainSide *os.File // the decrypted archive's sidecar's, likewise
	placed    []string // final names renamed into place so far
	committed bool
}

func (s *splitter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		cur, err := s.current()
		if err != nil {
			return written, err
		}
		k := int(min(int64(len(p)), s.limit-cur.n))
		n, err := cur.f.Write(p[:k])
		if cur.h != nil {
			cur.h.Write(p[:n])
		}
		s.whole.Write(p[:n])
		cur.n += int64(n)
		s.size += int64(n)
		if cur.n-cur.flushed >= writebackChunk {
			startWriteback(cur.f, cur.flushed, cur.n-cur.flushed)
			cur.flushed = cur.n
		}
		written += n
		if err != nil {
			return written, fmt.Errorf("failed to write %s: %w", cur.f.Name(), err)
		}
		p = p[k:]
	}
	return written, nil
}

// current returns the part to write to, starting a new one when the last
// is full.
func (s *splitter) current() (*part, error) {
	if n := len(s.parts); n > 0 && s.parts[n-1].n < s.limit {
		return s.parts[n-1], nil
	}
	if len(s.parts) == maxParts {
		return nil, fmt.Errorf("the archive would need more than %d parts of %d bytes: use a larger part size", maxParts, s.limit)
	}
	f, err := createTemp(s.dir)
	if err != nil {
		return nil, err
	}
	p := &part{f: f}
	if len(s.parts) > 0 {
		p.h = sha256.New()
	}
	if len(s.parts) == 1 { // the first part ends: the whole so far
		s.parts[0].sum = s.whole.Sum(nil)
	}
	s.parts = append(s.parts, p)
	return p, nil
}

// digest returns the SHA-256 of part i.
func (s *splitter) digest(i int) []byte {
	switch p := s.parts[i]; {
	case p.h != nil:
		return p.h.Sum(nil)
	case p.sum != nil:
		return p.sum
	default: // the only part
		return s.whole.Sum(nil)
	}
}

// commit makes the parts durable, writes the sidecar and renames
// everything into place: the archive at final (or its parts), then the
// sidecar.
func (s *splitter) commit(final string) (*Written, error) {
	if len(s.parts) == 0 { // an empty archive is one empty file
		if _, err := s.current(); err != nil {
			return nil, err
		}
	}
	files := []string{final}
	if len(s.parts) > 1 {
		files = make([]string, len(s.parts))
		for i := range s.parts {
			files[i] = PartPath(final, i)
		}
	}
	res := &Written{Path: final, Files: files, Sidecar: SidecarPath(final), Size: s.size, SHA256: hex.EncodeToString(s.whole.Sum(nil))}
	err := CheckFree(final)
	if err != nil {
		return nil, err
	}
	var sums []Sum
	for i, p := range s.parts {
		if err := p.f.Sync(); err != nil {
			return nil, fmt.Errorf("failed to sync %s: %w", p.f.Name(), err)
		}
		sums = append(sums, Sum{SHA256: hex.EncodeToString(s.digest(i)), Name: filepath.Base(files[i])})
	}
	if len(s.parts) > 1 {
		sums = append(sums, Sum{SHA256: res.SHA256, Name: filepath.Base(final)})
	}
	if s.sidecar, err = s.writeSidecar(sums); err != nil {
		return nil, err
	}
	if plain := plainPath(final); s.plain != nil && plain != final {
		res.PlainSidecar = SidecarPath(plain)
		sum := Sum{SHA256: hex.EncodeToString(s.plain.Sum(nil)), Name: filepath.Base(plain)}
		if s.plainSide, err = s.writeSidecar([]Sum{sum}); err != nil {
			return nil, err
		}
	}
	for i, p := range s.parts {
		if err := s.place(p.f, files[i]); err != nil {
			return nil, err
		}
	}
	if s.plainSide != nil {
		if err := s.placeSum(s.plainSide, res.PlainSidecar); err != nil {
			return nil, err
		}
	}
	placeSidecar := s.place
	if res.Sidecar == SidecarPath(plainPath(final)) {
		placeSidecar = s.placeSum
	}
	if err := placeSidecar(s.sidecar, res.Sidecar); err != nil {
		return nil, err
	}
	if err := fsync.Dir(s.dir); err != nil {
		return nil, err
	}
	s.committed = true
	s.closeAll()
	return res, nil
}

// writeSidecar writes sums into a new temporary file, and returns it even
// on failure, for abort to remove.
func (s *splitter) writeSidecar(sums []Sum) (*os.File, error) {
	f, err := createTemp(s.dir)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(FormatSidecar(sums)); err != nil {
		return f, fmt.Errorf("failed to write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return f, fmt.Errorf("failed to sync %s: %w", f.Name(), err)
	}
	return f, nil
}

// place renames a temporary file to its final name.
func (s *splitter) place(f *os.File, final string) error {
	if err := os.Rename(f.Name(), final); err != nil {
		return fmt.Errorf("failed to rename %s into place: %w", final, err)
	}
	s.placed = append(s.placed, final)
	return nil
}

// placeSum puts the sidecar f of a decrypted archive <name>.tar.zst in
// place as final. An encrypted archive and the plaintext one of the same
// snapshot, written into one directory, share that sidecar: one already
// there with the same content is kept, one with other content is an
// error wrapping fs.ErrExist, and nothing is ever replaced.
func (s *splitter) placeSum(f *os.File, final string) error {
	err := renameNoReplace(f.Name(), final)
	if errors.Is(err, fs.ErrExist) {
		mine, rerr := os.ReadFile(f.Name())
		theirs, terr := os.ReadFile(final)
		if rerr != nil || terr != nil || !bytes.Equal(mine, theirs) {
			return &fs.PathError{Op: "write archive", Path: final, Err: fs.ErrExist}
		}
		return os.Remove(f.Name())
	}
	if err != nil {
		return fmt.Errorf("failed to move %s into place: %w", final, err)
	}
	s.placed = append(s.placed, final)
	return nil
}

// renameNoReplace renames oldpath to newpath unless newpath exists, when
// it fails with an error wrapping fs.ErrExist. It uses renameat2's
// RENAME_NOREPLACE, else a hard link (filesystems whose renameat2 lacks
// the flag), else, on a filesystem with neither (exFAT, FAT: an SD card,
// Issue 21.3), a look before a plain rename.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
		return pathErr(newpath, err)
	}
	if err = os.Link(oldpath, newpath); err == nil {
		return os.Remove(oldpath)
	}
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	if _, err := os.Lstat(newpath); err == nil {
		return pathErr(newpath, unix.EEXIST)
	}
	return os.Rename(oldpath, newpath)
}

// pathErr wraps a system call's error with the path it concerns; nil
// stays nil.
func pathErr(path string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: "rename", Path: path, Err: err}
}

// plainPath returns the name of the decrypted archive of final: final
// without .age.
func plainPath(final string) string { return strings.TrimSuffix(final, AgeExt) }

// abort removes every file written, under temporary or final names,
// unless the archive was committed.
func (s *splitter) abort() {
	if s.committed {
		return
	}
	for _, p := range s.placed {
		os.Remove(p)
	}
	s.placed = nil
	for _, p := range s.parts {
		os.Remove(p.f.Name())
	}
	for _, f := range []*os.File{s.sidecar, s.plainSide} {
		if f != nil {
			os.Remove(f.Name())
		}
	}
	s.closeAll()
}

func (s *splitter) closeAll() {
	for _, p := range s.parts {
		p.f.Close()
	}
	for _, f := range []*os.File{s.sidecar, s.plainSide} {
		if f != nil {
			f.Close()
		}
	}
}

// CheckFree fails with an error wrapping fs.ErrExist if the archive at
// final, its sidecar or a part of it exists: [Writer.Commit] never
// overwrites an archive, and a caller may want to know before writing one.
// The sidecar of the decrypted archive (<name>.tar.zst.sha256), which the
// plaintext and the encrypted archive of a snapshot share, is checked
// only when it is placed.
func CheckFree(final string) error {
	var taken []string
	for _, p := range []string{final, SidecarPath(final)} {
		if p != SidecarPath(plainPath(final)) {
			taken = append(taken, p)
		}
	}
	ents, err := os.ReadDir(filepath.Dir(final))
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("failed to list %s: %w", filepath.Dir(final), err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), filepath.Base(final)+partInfix) {
			taken = append(taken, filepath.Join(filepath.Dir(final), e.Name()))
		}
	}
	for _, p := range taken {
		if _, err := os.Lstat(p); err == nil {
			return &fs.PathError{Op: "write archive", Path: p, Err: fs.ErrExist}
		}
	}
	return nil
}
