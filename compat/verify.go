package compat

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// Report describes a verified archive.
type Report struct {
	// Files are the files checked: the archive, or its parts.
	Files []string
	// Sidecars are the sidecars they were checked against.
	Sidecars []string
	// Size is the archive's size (of all its parts together).
	Size int64
	// Encrypted reports an age-encrypted archive.
	Encrypted bool
	// Content reports that the content was checked too: decrypted (when
	// encrypted), decompressed and read as a tar archive to its end. It
	// is false for an encrypted archive checked without an identity.
	Content bool
	// Entries is the number of entries of the tar archive, when Content.
	Entries int
}

// Verify checks the classic archive that path names (the archive, one of
// its parts, or its sidecar) against its sidecar and, unless it is
// encrypted and ids is empty, that it decrypts, that its zstd stream is
// valid and that its tar stream is well-formed to its end-of-archive
// marker. A failed check is a *[VerifyError] naming the file at fault; a
// flipped byte is reported as the checksum mismatch it causes.
func Verify(ctx context.Context, path string, ids []age.Identity) (*Report, error) {
	r, err := newReader(ctx, path, true)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	err = r.start(ids)
	rep := &Report{Files: r.a.files, Sidecars: r.a.sidecars(), Encrypted: r.encrypted}
	switch {
	case errors.Is(err, ErrNeedIdentity):
		if r.a.sidecar == "" {
			return nil, verifyErr(r.a.path, ErrNoSidecar, "%s does not exist, and %s is of the decrypted archive: checking against it needs the identity",
				SidecarPath(r.a.path), r.a.plainSidecar)
		}
		rep.Sidecars = []string{r.a.sidecar}
		err = r.stored.drain()
	case err == nil:
		rep.Entries, err = readTar(r)
		if err != nil {
			err = r.fail(err)
		}
		rep.Content = err == nil
	}
	if err != nil {
		return nil, err
	}
	rep.Size = r.stored.n
	return rep, nil
}

// endMarker is the tar end-of-archive marker: two zero blocks.
const endMarker = 2 * 512

// readTar reads a tar stream to its end and returns its number of
// entries. The stream must end with the end-of-archive marker, followed
// by nothing but zeros (GNU tar pads the archive to a whole record).
func readTar(r io.Reader) (int, error) {
	z := &zeroTail{r: r}
	tr := tar.NewReader(z)
	n := 0
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err == nil {
			_, err = io.Copy(io.Discard, tr)
		}
		if err != nil {
			return n, fmt.Errorf("tar entry %d: %w", n+1, err)
		}
		n++
	}
	if z.zeros < endMarker {
		return n, errors.New("the tar stream ends without its end-of-archive marker")
	}
	buf := make([]byte, 32<<10)
	for {
		k, err := r.Read(buf)
		if lastNonZero(buf[:k]) >= 0 {
			return n, errors.New("data after the end of the tar archive")
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// zeroTail counts the zero bytes at the end of what has been read through
// it.
type zeroTail struct {
	r     io.Reader
	zeros int
}

func (z *zeroTail) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	if i := lastNonZero(p[:n]); i >= 0 {
		z.zeros = n - 1 - i
	} else {
		z.zeros += n
	}
	return n, err
}

// lastNonZero returns the index of the last non-zero byte of b, or -1.
func lastNonZero(b []byte) int {
	i := len(b) - 1
	for i >= 0 && b[i] == 0 {
		i--
	}
	return i
}
