package compat

import (
	"errors"
	"fmt"
)

// ErrVerify is wrapped by every failure to verify an archive: a missing or
// mismatching sidecar, a missing part, malformed content.
var ErrVerify = errors.New("archive verification failed")

// Causes of a [VerifyError], for callers that need to tell them apart.
var (
	// ErrNoSidecar: the archive has no sidecar.
	ErrNoSidecar = errors.New("no sidecar")
	// ErrOtherFile: the sidecar has no line for the archive (it names
	// other files), or the archive has a part the sidecar does not list.
	ErrOtherFile = errors.New("sidecar names another file")
	// ErrMissingPart: the sidecar lists a part that does not exist.
	ErrMissingPart = errors.New("missing part")
	// ErrMismatch: a file's SHA-256 differs from its sidecar line.
	ErrMismatch = errors.New("checksum mismatch")
	// ErrMalformed: the content is not a (possibly age-encrypted) zstd
	// stream of a well-formed tar archive, or a sidecar is not in the
	// format of sha256sum.
	ErrMalformed = errors.New("malformed archive")
)

// ErrNeedIdentity is returned by [Open] for an age-encrypted archive when
// no identity is given.
var ErrNeedIdentity = errors.New("the archive is age-encrypted: reading it needs the identity")

// VerifyError reports an archive file that failed verification. It wraps
// both [ErrVerify] and its cause (one of the sentinels above).
type VerifyError struct {
	// File is the archive file (or sidecar) at fault.
	File string
	// Err is the cause: ErrNoSidecar, ErrOtherFile, ErrMissingPart,
	// ErrMismatch or ErrMalformed.
	Err error
	// Detail says what exactly is wrong.
	Detail string
}

func (e *VerifyError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.File, e.Err, e.Detail)
}

// Unwrap returns ErrVerify and the cause.
func (e *VerifyError) Unwrap() []error { return []error{ErrVerify, e.Err} }

func verifyErr(file string, cause error, format string, a ...any) error {
	return &VerifyError{File: file, Err: cause, Detail: fmt.Sprintf(format, a...)}
}
