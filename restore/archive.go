package restore

import (
	"archive/tar"
	"bytes"
	"io"
	"path"
)

// ArchiveSource returns the source of a classic archive's tar stream r,
// labelled label, with the directory its members lie under: "db" when the
// first member is the directory db/, as in the old scripts' db archives
// (extracted with tar -xf in DB_DIR's parent), and "" for members under
// ./ (pocketsnap's earlier layout). It reads the first header to tell.
func ArchiveSource(r io.Reader, label string) Source {
	var head bytes.Buffer
	h, err := tar.NewReader(io.TeeReader(r, &head)).Next()
	src := Source{Stream: io.MultiReader(&head, r), Label: label}
	if err == nil && h.Typeflag == tar.TypeDir && path.Clean(h.Name) == "db" {
		src.Root = "db"
	}
	return src
}
