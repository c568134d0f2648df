package manifest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"path"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// SetsDir is the repository directory that holds set objects.
const SetsDir = "sets"

// setMagic begins every set object.
const setMagic = "pocketsnap set v2\n"

// Prefix is the first [chunkstore.PrefixSize] bytes of a blob ID: what a
// version 2 manifest's public part names a blob by.
type Prefix = [chunkstore.PrefixSize]byte

// SetName returns the repository-relative name of the set object id.
func SetName(id chunkstore.ID) string { return path.Join(SetsDir, id.String()) }

// EncodeSet returns the stored form of a set object holding the sorted,
// distinct prefixes, and its ID (the SHA-256 of those bytes).
func EncodeSet(prefixes []Prefix) ([]byte, chunkstore.ID) {
	b := make([]byte, 0, len(setMagic)+len(prefixes)*chunkstore.PrefixSize)
	b = append(b, setMagic...)
	for _, p := range prefixes {
		b = append(b, p[:]...)
	}
	return b, sha256.Sum256(b)
}

// DecodeSet parses a set object that must be named id. It fails, wrapping
// [ErrInvalid], on bytes that do not hash to id or are not a set object.
func DecodeSet(b []byte, id chunkstore.ID) ([]Prefix, error) {
	if sha256.Sum256(b) != id {
		return nil, fmt.Errorf("%w: set object %s: its bytes hash to %x", ErrInvalid, SetName(id), sha256.Sum256(b))
	}
	raw, ok := bytes.CutPrefix(b, []byte(setMagic))
	if !ok {
		return nil, fmt.Errorf("%w: set object %s: not a set object", ErrInvalid, SetName(id))
	}
	set, err := parsePrefixes(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: set object %s: %v", ErrInvalid, SetName(id), err)
	}
	return set, nil
}

// parsePrefixes parses concatenated prefixes that must be sorted and
// distinct.
func parsePrefixes(raw []byte) ([]Prefix, error) {
	if len(raw)%chunkstore.PrefixSize != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of %d-byte prefixes", len(raw), chunkstore.PrefixSize)
	}
	out := make([]Prefix, len(raw)/chunkstore.PrefixSize)
	for i := range out {
		out[i] = Prefix(raw[i*chunkstore.PrefixSize:])
		if i > 0 && bytes.Compare(out[i-1][:], out[i][:]) >= 0 {
			return nil, errors.New("prefixes are not sorted and distinct")
		}
	}
	return out, nil
}

func comparePrefix(a, b Prefix) int { return bytes.Compare(a[:], b[:]) }

// diffSets returns the prefixes of set that base lacks, and those of
// base that set lacks; both are sorted and distinct.
func diffSets(base, set []Prefix) (added, removed []Prefix) {
	i, j := 0, 0
	for i < len(base) || j < len(set) {
		switch {
		case j == len(set) || i < len(base) && comparePrefix(base[i], set[j]) < 0:
			removed = append(removed, base[i])
			i++
		case i == len(base) || comparePrefix(base[i], set[j]) > 0:
			added = append(added, set[j])
			j++
		default:
			i++
			j++
		}
	}
	return added, removed
}

// applyDelta returns base without removed and with added. It fails when
// removed names a prefix base lacks or added one base has: a delta not
// computed against this base.
func applyDelta(base, added, removed []Prefix) ([]Prefix, error) {
	out := make([]Prefix, 0, len(base)+len(added)-min(len(removed), len(base)+len(added)))
	i, a, r := 0, 0, 0
	for i < len(base) || a < len(added) {
		if a < len(added) && (i == len(base) || comparePrefix(added[a], base[i]) < 0) {
			out = append(out, added[a])
			a++
			continue
		}
		if a < len(added) && comparePrefix(added[a], base[i]) == 0 {
			return nil, fmt.Errorf("added blob %x is in the base set", added[a])
		}
		if r < len(removed) && comparePrefix(removed[r], base[i]) < 0 {
			return nil, fmt.Errorf("removed blob %x is not in the base set", removed[r])
		}
		if r < len(removed) && removed[r] == base[i] {
			r++
		} else {
			out = append(out, base[i])
		}
		i++
	}
	if r < len(removed) {
		return nil, fmt.Errorf("removed blob %x is not in the base set", removed[r])
	}
	return out, nil
}

// prefixesOf returns the prefixes of sorted, distinct blob IDs. Two IDs
// that share a prefix cannot be told apart in a version 2 manifest, so
// that is an error (one chance in about 2^88 for a million blobs).
func prefixesOf(ids []chunkstore.ID) ([]Prefix, error) {
	out := make([]Prefix, len(ids))
	for i, id := range ids {
		out[i] = Prefix(id[:chunkstore.PrefixSize])
		if i > 0 && out[i-1] == out[i] {
			return nil, fmt.Errorf("blobs %s and %s share their first %d bytes", ids[i-1], id, chunkstore.PrefixSize)
		}
	}
	return out, nil
}

// needsNewBase says whether a writer starts a new base of its set
// rather than store a delta of size prefixes against a base of base
// prefixes, against which the stored manifests' deltas already hold
// stored prefixes. It does when the delta would exceed a quarter of the
// base, or when the deltas against it, this one included, would exceed
// the base: a base and the deltas stored against it then cost at most
// about twice the base, however slowly the set changes, where a quarter
// alone lets a slowly changing set pay its growing delta for weeks.
func needsNewBase(base, delta, stored int) bool {
	return 4*delta > base || stored+delta > base
}
