package manifest

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// StampLayout is the UTC time stamp in snapshot names.
const StampLayout = "20060102T150405Z"

var kindRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,31}$`)

// CheckKind validates a snapshot kind: lowercase letters, digits and
// underscores, at most 32 characters.
func CheckKind(kind string) error {
	if !kindRE.MatchString(kind) {
		return fmt.Errorf("invalid kind %q: use lowercase letters, digits and '_' (at most 32)", kind)
	}
	return nil
}

// Name returns the snapshot name "<kind>-<UTC stamp>" for a kind and time.
func Name(kind string, t time.Time) string {
	return kind + "-" + t.UTC().Format(StampLayout)
}

// ParseName splits a snapshot name into kind and time.
func ParseName(name string) (string, time.Time, error) {
	kind, stamp, ok := strings.Cut(name, "-")
	if !ok {
		return "", time.Time{}, fmt.Errorf("invalid snapshot name %q: want <kind>-<YYYYMMDDTHHMMSSZ>", name)
	}
	if err := CheckKind(kind); err != nil {
		return "", time.Time{}, fmt.Errorf("invalid snapshot name %q: %w", name, err)
	}
	t, err := time.Parse(StampLayout, stamp)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("invalid snapshot name %q: %w", name, err)
	}
	return kind, t, nil
}
