package main

import (
	"errors"
	"fmt"
	"os"
)

// errLoose is returned for a secret file that others can read.
var errLoose = errors.New("is readable by group or others")

// privateFile refuses the open secret file f at path (what it is, for the
// message: the key that names it) when group or others may read it, as
// ssh refuses a private key with loose permissions (issue 17.6). The hint
// names the chmod, or, where the filesystem keeps no permission bits and
// chmod cannot help, noModesHint: where to keep the file instead.
func privateFile(f *os.File, what, path, noModesHint string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	if fs := noModesFS(path); fs != "" {
		return &hintError{
			err:  fmt.Errorf("%s %s %w (mode %04o) and is on a %s filesystem, which keeps no permission bits: it cannot be made private there; refusing to use it", what, path, errLoose, perm, fs),
			hint: noModesHint,
		}
	}
	err = fmt.Errorf("%s %s %w (mode %04o); refusing to use it", what, path, errLoose, perm)
	return &hintError{err: err, hint: "run: chmod 600 " + path}
}
