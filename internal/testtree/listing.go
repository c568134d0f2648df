//go:build linux

package testtree

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Listing describes the tree below dir (dir itself included) as text, one
// line per entry in bytewise path order, for a test to compare with a
// committed expectation: path (quoted), type, permission bits with
// setuid/setgid/sticky, mtime in nanoseconds, then for a regular file its
// size and SHA-256, for a symlink its target, for a device its numbers, and
// for a path sharing its inode with others the first path of its group.
// Owners, access times and directory sizes are left out, so a listing
// taken as any user on any file system compares equal.
func Listing(dir string) (string, error) {
	entries, err := scan(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, e := range entries {
		st := &e.st
		fmt.Fprintf(&b, "%s %s %04o %d", strconv.Quote(display(e.rel)), strings.ReplaceAll(typeName(st), " ", "-"),
			st.Mode&0o7777, st.Mtim.Nano())
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			h := sha256.New()
			if err := hashContent(h, filepath.Join(dir, e.rel), st.Size); err != nil {
				return "", err
			}
			fmt.Fprintf(&b, " size=%d sha256=%s", st.Size, hex.EncodeToString(h.Sum(nil)))
		case unix.S_IFLNK:
			fmt.Fprintf(&b, " target=%s", strconv.Quote(e.target))
		case unix.S_IFCHR, unix.S_IFBLK:
			fmt.Fprintf(&b, " dev=%d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		if links := e.links(); len(links) > 1 {
			fmt.Fprintf(&b, " inode-of=%s", strconv.Quote(links[0]))
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}
