package compat

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Sum is one line of a sidecar: the SHA-256 of a file and its name.
type Sum struct {
	// SHA256 is the digest in lowercase hex.
	SHA256 string
	// Name is the file's name as written in the sidecar (pocketsnap writes
	// base names, so that `sha256sum -c` works from the archive's
	// directory).
	Name string
}

// maxSidecarSize bounds what is read as a sidecar: a sidecar of 1000
// parts is about 100 KiB.
const maxSidecarSize = 1 << 20

// FormatSidecar returns sums in the output format of GNU sha256sum:
// "<hex>  <name>\n" per line, where a name holding a backslash, a newline
// or a carriage return is escaped and its line starts with a backslash.
func FormatSidecar(sums []Sum) []byte {
	var b bytes.Buffer
	for _, s := range sums {
		name := escaper.Replace(s.Name)
		if name != s.Name {
			b.WriteByte('\\')
		}
		fmt.Fprintf(&b, "%s  %s\n", s.SHA256, name)
	}
	return b.Bytes()
}

var (
	escaper   = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`)
	unescaper = strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\r`, "\r")
)

// ParseSidecar parses the output of sha256sum (text or binary mode, GNU
// escapes). Digests are returned in lowercase.
func ParseSidecar(b []byte) ([]Sum, error) {
	var sums []Sum
	lines := strings.SplitAfter(string(b), "\n")
	for i, line := range lines {
		if line == "" && i == len(lines)-1 {
			break
		}
		s, err := parseSum(strings.TrimSuffix(line, "\n"))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		sums = append(sums, s)
	}
	if len(sums) == 0 {
		return nil, errors.New("no checksum lines")
	}
	return sums, nil
}

func parseSum(line string) (Sum, error) {
	escaped := strings.HasPrefix(line, `\`)
	if escaped {
		line = line[1:]
	}
	const n = 2 * 32
	if len(line) < n+3 || line[n] != ' ' || (line[n+1] != ' ' && line[n+1] != '*') {
		return Sum{}, errors.New(`want "<64 hex digits>  <file name>" as sha256sum writes`)
	}
	digest := strings.ToLower(line[:n])
	if _, err := hex.DecodeString(digest); err != nil {
		return Sum{}, fmt.Errorf("bad SHA-256 %q", line[:n])
	}
	name := line[n+2:]
	if escaped {
		name = unescaper.Replace(name)
	}
	return Sum{SHA256: digest, Name: name}, nil
}

// readSidecar reads and parses the sidecar at path; a missing one is
// (nil, nil).
func readSidecar(path string) ([]Sum, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read sidecar %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSidecarSize+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read sidecar %s: %w", path, err)
	}
	if len(b) > maxSidecarSize {
		return nil, verifyErr(path, ErrMalformed, "larger than %d bytes: not a sidecar", maxSidecarSize)
	}
	sums, err := ParseSidecar(b)
	if err != nil {
		return nil, verifyErr(path, ErrMalformed, "not in sha256sum format: %v", err)
	}
	return sums, nil
}
