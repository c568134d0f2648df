package chunkstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// Encodings recorded in [Config.Encoding]: how a stored object's bytes are
// undone. Blobs are always one zstd frame each; EncodingAge additionally
// encrypts every stored object (pack, manifest private part, secrets) to
// the recipients.
const (
	EncodingAge   = "zstd+age"
	EncodingPlain = "zstd"
)

// ErrNoIdentity is returned when reading encrypted data without an age
// identity.
var ErrNoIdentity = errors.New("no age identity: reading an encrypted repository needs BACKUP_AGE_IDENTITY")

// ErrWrongIdentity is returned when none of the identities decrypts an object.
var ErrWrongIdentity = errors.New("the age identity does not match the repository's recipients")

// Codec seals objects for storage and opens them again. The zero Codec is
// plaintext (no recipients).
type Codec struct {
	recipients []age.Recipient
	identities []age.Identity
}

// NewCodec returns a codec that encrypts to recipients (none: plaintext).
func NewCodec(recipients []age.Recipient) *Codec {
	return &Codec{recipients: recipients}
}

// ParseRecipients parses age recipients separated by commas, spaces or
// newlines; lines starting with '#' are comments, as in a recipients file.
func ParseRecipients(s string) ([]age.Recipient, []string, error) {
	var recs []age.Recipient
	var strs []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
			r, err := age.ParseX25519Recipient(f)
			if err != nil {
				return nil, nil, fmt.Errorf("invalid age recipient %q: %w", f, err)
			}
			recs = append(recs, r)
			strs = append(strs, f)
		}
	}
	return recs, strs, nil
}

// Encrypted reports whether the codec encrypts.
func (c *Codec) Encrypted() bool { return len(c.recipients) > 0 }

// SetIdentities provides the identities that open encrypted objects.
func (c *Codec) SetIdentities(ids []age.Identity) { c.identities = ids }

// Seal returns a writer whose output, written to w, is the stored form of
// what is written to it. Close must be called to finish the object.
func (c *Codec) Seal(w io.Writer) (io.WriteCloser, error) {
	if !c.Encrypted() {
		return nopCloser{w}, nil
	}
	return age.Encrypt(w, c.recipients...)
}

// SealBytes returns the stored form of b.
func (c *Codec) SealBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := c.Seal(&buf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Open returns the plaintext of a stored object read from r.
func (c *Codec) Open(r io.Reader) (io.Reader, error) {
	if !c.Encrypted() {
		return r, nil
	}
	if len(c.identities) == 0 {
		return nil, ErrNoIdentity
	}
	pr, err := age.Decrypt(r, c.identities...)
	return pr, identityError(err)
}

// OpenBytes returns the plaintext of the stored object b, authenticated.
func (c *Codec) OpenBytes(b []byte) ([]byte, error) {
	r, err := c.Open(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// OpenAt gives random access to the plaintext of a stored object of the
// given size. With encryption, every read is authenticated.
func (c *Codec) OpenAt(ra io.ReaderAt, size int64) (io.ReaderAt, int64, error) {
	if !c.Encrypted() {
		return ra, size, nil
	}
	if len(c.identities) == 0 {
		return nil, 0, ErrNoIdentity
	}
	pr, n, err := age.DecryptReaderAt(ra, size, c.identities...)
	return pr, n, identityError(err)
}

func identityError(err error) error {
	var nm *age.NoIdentityMatchError
	if errors.As(err, &nm) {
		return ErrWrongIdentity
	}
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
