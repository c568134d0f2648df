package pipeline

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pocketsnap/pocketsnap/manifest"
)

// blockSize is the tar block size; bodies are padded to a multiple of it.
const blockSize = 512

// trailer ends every tar stream: two zero blocks.
var trailer = make([]byte, 2*blockSize)

func padding(size int64) int64 { return -size & (blockSize - 1) }

// tarHeader builds the deterministic header of an entry. Only what the
// filesystem says about the entry goes in: numeric owners (no user or
// group names, which would depend on the machine's databases), mtime with
// nanoseconds, no atime or ctime.
func tarHeader(e *entry, xattr map[string]string, root string) (*tar.Header, error) {
	st := e.st
	h := &tar.Header{
		Name:       memberName(root, e.rel),
		Mode:       int64(st.Mode & 0o7777),
		Uid:        int(st.Uid),
		Gid:        int(st.Gid),
		ModTime:    time.Unix(st.Mtim.Unix()),
		Format:     tar.FormatPAX,
		PAXRecords: xattr,
	}
	mode := e.mode()
	switch {
	case e.linkTo != "":
		h.Typeflag, h.Linkname = tar.TypeLink, memberName(root, e.linkTo)
	case mode.IsRegular():
		h.Typeflag, h.Size = tar.TypeReg, e.st.Size
	case mode.IsDir():
		h.Typeflag = tar.TypeDir
		h.Name += "/"
	case mode&fs.ModeSymlink != 0:
		h.Typeflag = tar.TypeSymlink
	case mode&fs.ModeNamedPipe != 0:
		h.Typeflag = tar.TypeFifo
	case mode&fs.ModeCharDevice != 0:
		h.Typeflag = tar.TypeChar
		h.Devmajor, h.Devminor = int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev)))
	case mode&fs.ModeDevice != 0:
		h.Typeflag = tar.TypeBlock
		h.Devmajor, h.Devminor = int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev)))
	default:
		return nil, fmt.Errorf("unsupported file type %v", mode.Type())
	}
	if e.rel == "." && root == "" {
		h.Name = "./"
	}
	return h, nil
}

// memberName is the tar name of the entry at rel (slash-separated, "."
// for the source) in a stream whose members lie under root, or under
// "./" when root is empty.
func memberName(root, rel string) string {
	switch {
	case root == "":
		return rel
	case rel == ".":
		return root
	}
	return root + "/" + rel
}

// relName is the inverse of memberName for a name without its trailing
// slash: the path relative to the source. A name outside root is kept
// whole.
func relName(root, name string) string {
	switch {
	case name == "./" || name == "." || root != "" && name == root:
		return "."
	case root != "":
		if rel, ok := strings.CutPrefix(name, root+"/"); ok {
			return rel
		}
	}
	return name
}

// renderHeader returns the bytes archive/tar writes for h (PAX extended
// header included), without touching any body.
func renderHeader(h *tar.Header) ([]byte, error) {
	var buf bytes.Buffer
	if err := tar.NewWriter(&buf).WriteHeader(h); err != nil {
		return nil, fmt.Errorf("failed to encode tar header: %w", err)
	}
	return buf.Bytes(), nil
}

// fileType names a tar type flag in the file index.
func fileType(flag byte) string {
	switch flag {
	case tar.TypeReg:
		return "file"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hardlink"
	case tar.TypeFifo:
		return "fifo"
	case tar.TypeChar:
		return "char"
	case tar.TypeBlock:
		return "block"
	}
	return "other"
}

// indexEntry is the file index record of a header.
func indexEntry(h *tar.Header, root string) manifest.File {
	link := h.Linkname
	if h.Typeflag == tar.TypeLink {
		link = relName(root, link)
	}
	return manifest.File{
		Path:  relName(root, trimSlash(h.Name)),
		Type:  fileType(h.Typeflag),
		Mode:  uint32(h.Mode),
		Size:  h.Size,
		MTime: h.ModTime.UnixNano(),
		UID:   h.Uid,
		GID:   h.Gid,
		Link:  link,
	}
}

func trimSlash(s string) string {
	if len(s) > 1 && s[len(s)-1] == '/' {
		return s[:len(s)-1]
	}
	return s
}
