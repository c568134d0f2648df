package compat

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// located is an archive found on disk, with what its sidecars say.
type located struct {
	// path is the archive's path, whether it exists whole or in parts.
	path string
	// files hold the archive's bytes: path, or its parts in order.
	files []string
	// want is the expected hex SHA-256 of each of files, from sidecar.
	want []string
	// whole is the expected SHA-256 of the parts together, if the sidecar
	// lists it.
	whole   string
	sidecar string // "" if there is none
	// plain is the expected SHA-256 of the decrypted archive, from the
	// plaintext sidecar <archive without .age>.sha256 the old scripts
	// left beside an encrypted archive ("" if there is none).
	plain, plainSidecar string
}

// locate finds the archive that path names (the archive itself, one of
// its parts or its sidecar), its files and, when verify is set, its
// sidecars.
func locate(path string, verify bool) (*located, error) {
	a := &located{path: archivePath(path)}
	files, err := dataFiles(a.path)
	if err != nil {
		return nil, err
	}
	a.files = files
	if !verify {
		return a, nil
	}
	sums, err := readSidecar(SidecarPath(a.path))
	if err != nil {
		return nil, err
	}
	if sums != nil {
		a.sidecar = SidecarPath(a.path)
		if err := a.match(sums); err != nil {
			return nil, err
		}
	}
	if plain, ok := strings.CutSuffix(a.path, AgeExt); ok {
		if err := a.matchPlain(plain); err != nil {
			return nil, err
		}
	}
	if a.sidecar == "" && a.plainSidecar == "" {
		return nil, verifyErr(a.path, ErrNoSidecar, "%s does not exist", SidecarPath(a.path))
	}
	return a, nil
}

// archivePath strips a sidecar's or a part's suffix from path.
func archivePath(path string) string {
	if p, ok := strings.CutSuffix(path, SidecarExt); ok {
		return p
	}
	if i := strings.LastIndex(path, partInfix); i >= 0 && isPartNumber(path[i+len(partInfix):]) {
		return path[:i]
	}
	return path
}

func isPartNumber(s string) bool {
	return len(s) == 3 && strings.Trim(s, "0123456789") == ""
}

// dataFiles returns the archive at path if it exists, or else its parts,
// which must be numbered from 000 without a gap.
func dataFiles(path string) ([]string, error) {
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("archive %s is not a regular file", path)
		}
		return []string{path}, nil
	}
	dir, base := filepath.Split(path)
	ents, err := os.ReadDir(filepath.Clean(dir + "."))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("failed to list %s: %w", dir, err)
	}
	var parts []string
	for _, e := range ents {
		if n, ok := strings.CutPrefix(e.Name(), base+partInfix); ok && isPartNumber(n) {
			parts = append(parts, filepath.Join(dir, e.Name()))
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("archive %s: %w (nor any part %s.part-NNN)", path, fs.ErrNotExist, base)
	}
	for i, p := range parts {
		if want := PartPath(path, i); p != want {
			return nil, verifyErr(want, ErrMissingPart, "the parts present go up to %s", filepath.Base(parts[len(parts)-1]))
		}
	}
	return parts, nil
}

// match takes the expected digests of a's files from its sidecar's lines.
// Lines are matched by base name, so a sidecar written by sha256sum with a
// directory in the names still matches.
func (a *located) match(sums []Sum) error {
	byName := map[string]string{}
	for _, s := range sums {
		byName[filepath.Base(s.Name)] = s.SHA256
	}
	base := filepath.Base(a.path)
	for _, f := range a.files {
		want, ok := byName[filepath.Base(f)]
		if !ok {
			return verifyErr(a.sidecar, ErrOtherFile, "it names %s, not %s", describeNames(sums), filepath.Base(f))
		}
		a.want = append(a.want, want)
	}
	if a.files[0] == a.path {
		return nil
	}
	next := filepath.Base(PartPath(a.path, len(a.files)))
	if _, ok := byName[next]; ok {
		return verifyErr(PartPath(a.path, len(a.files)), ErrMissingPart, "listed in %s, but it does not exist", a.sidecar)
	}
	a.whole = byName[base]
	return nil
}

// matchPlain takes the digest of the decrypted archive from the plaintext
// sidecar, if there is one naming it.
func (a *located) matchPlain(plain string) error {
	sums, err := readSidecar(SidecarPath(plain))
	if err != nil {
		return err
	}
	for _, s := range sums {
		if filepath.Base(s.Name) == filepath.Base(plain) {
			a.plain, a.plainSidecar = s.SHA256, SidecarPath(plain)
		}
	}
	return nil
}

// sidecars lists the sidecars a is checked against.
func (a *located) sidecars() []string {
	var out []string
	for _, s := range []string{a.sidecar, a.plainSidecar} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func describeNames(sums []Sum) string {
	if len(sums) == 1 {
		return sums[0].Name
	}
	return fmt.Sprintf("%s and %d other files", sums[0].Name, len(sums)-1)
}
