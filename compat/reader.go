package compat

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// storedReader reads an archive's stored bytes (its files in order),
// checking each file, and then the whole, against the sidecar as it
// reaches their ends.
type storedReader struct {
	ctx   context.Context
	a     *located
	i     int      // index in a.files of f
	f     *os.File // nil between files
	h     hash.Hash
	whole hash.Hash
	n     int64
	err   error
}

func (r *storedReader) Read(p []byte) (int, error) {
	for r.err == nil {
		if r.err = r.ctx.Err(); r.err != nil {
			break
		}
		if r.f == nil {
			if r.i == len(r.a.files) {
				r.err = r.end()
				break
			}
			if r.f, r.err = os.Open(r.a.files[r.i]); r.err != nil {
				r.f = nil
				break
			}
			r.h = sha256.New()
		}
		n, err := r.f.Read(p)
		r.h.Write(p[:n])
		r.whole.Write(p[:n])
		r.n += int64(n)
		if err == io.EOF {
			r.err = r.endFile()
		} else if err != nil {
			r.err = fmt.Errorf("failed to read %s: %w", r.f.Name(), err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, r.err
}

// endFile checks the file just read to its end.
func (r *storedReader) endFile() error {
	name := r.f.Name()
	r.f.Close()
	r.f = nil
	r.i++
	if r.a.want == nil {
		return nil
	}
	if got, want := hex.EncodeToString(r.h.Sum(nil)), r.a.want[r.i-1]; got != want {
		return verifyErr(name, ErrMismatch, "its SHA-256 is %s, %s says %s", got, r.a.sidecar, want)
	}
	return nil
}

// end checks the parts together, when the sidecar lists the whole.
func (r *storedReader) end() error {
	if r.a.whole != "" {
		if got := hex.EncodeToString(r.whole.Sum(nil)); got != r.a.whole {
			return verifyErr(r.a.path, ErrMismatch, "its parts together hash to %s, %s says %s", got, r.a.sidecar, r.a.whole)
		}
	}
	return io.EOF
}

// drain reads the rest, so that every check runs.
func (r *storedReader) drain() error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (r *storedReader) close() {
	if r.f != nil {
		r.f.Close()
	}
}

// Reader reads the tar stream of a classic archive: its stored bytes (the
// archive, or its parts in order), decrypted when it is an age file, then
// decompressed. Each file is checked against the sidecar as it is read to
// its end, and the decrypted bytes against the old scripts' plaintext
// sidecar if there is one; Read returns an error, never io.EOF, if a check
// fails, so a consumer that reads to EOF has seen exactly the archive the
// sidecar describes.
type Reader struct {
	a         *located
	stored    *storedReader
	encrypted bool
	plain     hash.Hash // of the decrypted bytes, when a.plain is set
	zr        *zstd.Decoder
	err       error
}

const ageMagic = "age-encryption.org/v1\n"

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Open opens the classic archive that path names (the archive, one of its
// parts, or its sidecar) for reading its tar stream. The archive must have
// a sidecar; an age-encrypted one needs ids ([ErrNeedIdentity] otherwise).
// Close must be called.
func Open(ctx context.Context, path string, ids []age.Identity) (*Reader, error) {
	return open(ctx, path, ids, true)
}

// OpenUnverified is Open without the sidecar checks, for an archive whose
// sidecar is missing or wrong and that the user vouches for (restore
// --no-verify). age's authentication and the zstd and tar framing are
// still checked.
func OpenUnverified(ctx context.Context, path string, ids []age.Identity) (*Reader, error) {
	return open(ctx, path, ids, false)
}

func open(ctx context.Context, path string, ids []age.Identity, verify bool) (*Reader, error) {
	r, err := newReader(ctx, path, verify)
	if err != nil {
		return nil, err
	}
	if err := r.start(ids); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func newReader(ctx context.Context, path string, verify bool) (*Reader, error) {
	a, err := locate(path, verify)
	if err != nil {
		return nil, err
	}
	return &Reader{a: a, stored: &storedReader{ctx: ctx, a: a, whole: sha256.New()}}, nil
}

// start recognises the archive's format and sets up decryption and
// decompression.
func (r *Reader) start(ids []age.Identity) error {
	br := bufio.NewReaderSize(r.stored, 64<<10)
	head, err := br.Peek(len(ageMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return r.fail(err)
	}
	var src io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte(ageMagic)):
		r.encrypted = true
		if len(ids) == 0 {
			return ErrNeedIdentity
		}
		ar, err := age.Decrypt(br, ids...)
		if err != nil {
			return r.fail(err)
		}
		src = ar
		if r.a.plain != "" {
			r.plain = sha256.New()
			src = io.TeeReader(ar, r.plain)
		}
	case !bytes.HasPrefix(head, zstdMagic):
		return r.fail(errors.New("neither an age file nor a zstd stream"))
	}
	r.zr, err = zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return fmt.Errorf("failed to start decompressing %s: %w", r.a.path, err)
	}
	return nil
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.zr.Read(p)
	switch {
	case err == io.EOF:
		err = r.finish()
	case err != nil:
		err = r.fail(err)
	}
	r.err = err
	return n, err
}

// finish runs the checks that need the whole archive read.
func (r *Reader) finish() error {
	if err := r.stored.drain(); err != nil {
		return err
	}
	if r.plain != nil {
		if got := hex.EncodeToString(r.plain.Sum(nil)); got != r.a.plain {
			return verifyErr(r.a.path, ErrMismatch, "decrypted, it hashes to %s, %s says %s", got, r.a.plainSidecar, r.a.plain)
		}
	}
	return io.EOF
}

// fail returns the error to report for err, a failure to read the content:
// if the stored bytes do not match the sidecar, that mismatch (the likely
// cause); otherwise err, as a malformed archive unless it is a failure to
// read, a cancellation or a wrong identity.
func (r *Reader) fail(err error) error {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve
	}
	if derr := r.stored.drain(); derr != nil {
		return derr
	}
	var nm *age.NoIdentityMatchError
	if errors.As(err, &nm) {
		return fmt.Errorf("failed to decrypt %s: %w", r.a.path, err)
	}
	return verifyErr(r.a.path, ErrMalformed, "%v", err)
}

// Close releases the files and the decompressor.
func (r *Reader) Close() error {
	if r.zr != nil {
		r.zr.Close()
	}
	r.stored.close()
	return nil
}
