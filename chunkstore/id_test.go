package chunkstore

import (
	"strings"
	"testing"
)

// Issue 20: a blob a version 2 manifest names by its prefix alone, which
// no index resolves, is named in messages by that prefix, not by a
// zero-padded ID that looks like a real one.
func TestIDStringOfAPrefix(t *testing.T) {
	var full, prefix ID
	for i := range full {
		full[i] = byte(i + 1)
	}
	copy(prefix[:PrefixSize], full[:PrefixSize])
	if got := full.String(); len(got) != 2*IDSize {
		t.Errorf("a full ID prints as %q", got)
	}
	got := prefix.String()
	if len(got) != 2*PrefixSize || !strings.HasPrefix(full.String(), got) {
		t.Errorf("an ID known by its prefix prints as %q, want the %d-digit prefix of %s", got, 2*PrefixSize, full)
	}
	if got := (ID{}).String(); got != strings.Repeat("0", 2*IDSize) {
		t.Errorf("the zero ID prints as %q", got)
	}
	if prefix.Short() != full.Short() {
		t.Errorf("Short differs: %s, %s", prefix.Short(), full.Short())
	}
	if _, err := ParseID(full.String()); err != nil {
		t.Error(err)
	}
}
