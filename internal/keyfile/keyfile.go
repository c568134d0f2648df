package keyfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"filippo.io/age"
)

// ErrLoose is wrapped by a LooseError: a secret file that others can read.
var ErrLoose = errors.New("is readable by group or others")

// LooseError is a secret file that group or others may read.
type LooseError struct {
	What string      // what the file is, for the message: the key that names it
	Path string      // the file
	Mode fs.FileMode // its permission bits
	// FS names the filesystem holding it when that keeps no permission
	// bits (see NoModesFS), so chmod cannot help; "" otherwise.
	FS string
	// NoModesHint says where to keep the file instead, when FS is set.
	NoModesHint string
}

func (e *LooseError) Error() string {
	if e.FS != "" {
		return fmt.Sprintf("%s %s %v (mode %04o) and is on a %s filesystem, which keeps no permission bits: it cannot be made private there; refusing to use it", e.What, e.Path, ErrLoose, e.Mode, e.FS)
	}
	return fmt.Sprintf("%s %s %v (mode %04o); refusing to use it", e.What, e.Path, ErrLoose, e.Mode)
}

// Unwrap returns ErrLoose.
func (e *LooseError) Unwrap() error { return ErrLoose }

// Hint is the one command that recovers: the chmod, or where chmod cannot
// help, NoModesHint.
func (e *LooseError) Hint() string {
	if e.FS != "" {
		return e.NoModesHint
	}
	return "run: chmod 600 " + e.Path
}

// Check returns a *LooseError when group or others may read the open
// secret file f at path (issue 17.6). what names the file in the message;
// noModesHint is the advice where the filesystem keeps no permission bits.
func Check(f *os.File, what, path, noModesHint string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	return &LooseError{What: what, Path: path, Mode: perm, FS: NoModesFS(path), NoModesHint: noModesHint}
}

// ErrInvalidIdentity is a file that holds no valid age identity.
var ErrInvalidIdentity = errors.New("not a valid age identity file")

// Identities reads the age identities in the file at path, which what
// names in messages. It returns the error of opening it (an
// *fs.PathError) unwrapped, a *LooseError when others may read it (on a
// filesystem without permission bits, the hint is to copy it into
// $HOME), and an error wrapping ErrInvalidIdentity, which never quotes
// the file, when it does not parse.
func Identities(what, path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	noModes := fmt.Sprintf("copy it into $HOME first (install -m 600 %s ~/%s) and point %s at the copy", path, filepath.Base(path), what)
	if err := Check(f, what, path, noModes); err != nil {
		return nil, err
	}
	ids, err := age.ParseIdentities(f)
	if err != nil {
		// age's parse errors may quote the key material: never repeat them.
		return nil, fmt.Errorf("%s %s: %w", what, path, ErrInvalidIdentity)
	}
	return ids, nil
}
