package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// errLooseIdentity is returned for an identity file that others can read.
var errLooseIdentity = errors.New("is readable by group or others")

// Filesystem magic numbers (statfs f_type) of the filesystems where chmod
// has no effect: FAT and exFAT (SD cards), and Android's shared storage
// (/sdcard: sdcardfs, or FUSE on newer versions).
const (
	msdosMagic    = 0x4d44
	exfatMagic    = 0x2011bab0
	sdcardfsMagic = 0x5dca2df5
	fuseMagic     = 0x65735546
)

// privateFile refuses the open identity file f at path when group or
// others may read it, as ssh refuses a private key with loose
// permissions (issue 17.6). The hint names the chmod, or, where chmod
// cannot help, says to copy the file into $HOME.
func privateFile(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("BACKUP_AGE_IDENTITY %s: %w", path, err)
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	err = fmt.Errorf("BACKUP_AGE_IDENTITY %s %w (mode %04o): refusing to use it", path, errLooseIdentity, perm)
	if noChmod(f) {
		return &hintError{err: err, hint: fmt.Sprintf("%s lies on a filesystem where chmod has no effect (FAT or Android shared storage): copy it into $HOME first, e.g. 'install -m 600 %s ~/%s', and point BACKUP_AGE_IDENTITY at the copy", path, path, filepath.Base(path))}
	}
	return &hintError{err: err, hint: fmt.Sprintf("run 'chmod 600 %s'", path)}
}

// noChmod reports whether f lies on a filesystem that ignores chmod.
func noChmod(f *os.File) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return false
	}
	switch int64(st.Type) {
	case msdosMagic, exfatMagic, sdcardfsMagic, fuseMagic:
		return true
	}
	return false
}
