package stage

import (
	"fmt"
	"path"
	"strings"
)

// DefaultImmutable are the patterns of the files RocksDB never modifies
// once written.
const DefaultImmutable = "*.sst *.blob"

// Matcher returns a function that reports whether a slash-separated path
// is immutable: whether its base name matches one of the space-separated
// path.Match patterns.
func Matcher(patterns string) (func(rel string) bool, error) {
	globs := strings.Fields(patterns)
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("immutable pattern %q: %w", g, err)
		}
	}
	return func(rel string) bool {
		base := path.Base(rel)
		for _, g := range globs {
			if ok, _ := path.Match(g, base); ok {
				return true
			}
		}
		return false
	}, nil
}
