package manifest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTime parses a point in time given on the command line, relative to
// now: a snapshot stamp (20261129T040000Z) or name (db-20261129T040000Z),
// RFC 3339, a date (2026-11-29, meaning the end of that UTC day), or an age
// such as 36h, 90m or 3d (before now).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(StampLayout, s); err == nil {
		return t, nil
	}
	if _, t, err := ParseName(s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(24*time.Hour - time.Second), nil
	}
	if d, err := parseAge(s); err == nil {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use a stamp (20261129T040000Z), RFC 3339, a date (2026-11-29) or an age (36h, 3d)", s)
}

func parseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, errors.New("bad days")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
}

// Candidate is a snapshot considered by Select, with the reason it was
// passed over, if it was.
type Candidate struct {
	// Name is the snapshot's name.
	Name string
	// Manifest is the snapshot's manifest; nil for a damaged one.
	Manifest *Manifest
	// Skipped says why it was passed over.
	Skipped string
}

// Select returns the newest complete snapshot of kind taken at or before
// at, and the incomplete snapshots it passed over on the way (an
// incomplete snapshot is never chosen implicitly). list is oldest first,
// as List returns it.
func Select(list []*Manifest, kind string, at time.Time) (*Manifest, []Candidate, error) {
	var skipped []Candidate
	var earliest *Manifest
	for i := len(list) - 1; i >= 0; i-- {
		m := list[i]
		if m.Kind != kind {
			continue
		}
		earliest = m
		if m.Time.After(at) {
			continue
		}
		if m.Incomplete {
			skipped = append(skipped, Candidate{Name: m.Name, Manifest: m, Skipped: "incomplete: some files were not read in full"})
			continue
		}
		return m, skipped, nil
	}
	switch {
	case earliest == nil:
		return nil, skipped, fmt.Errorf("no %s snapshot in the repository", kind)
	case earliest.Time.After(at):
		return nil, skipped, fmt.Errorf("no %s snapshot at or before %s: the first is %s", kind, at.Format(time.RFC3339), earliest.Name)
	}
	return nil, skipped, fmt.Errorf("no complete %s snapshot at or before %s", kind, at.Format(time.RFC3339))
}

// SelectValid is [Select] over what [ListValid] returns: the damaged
// manifests of kind that Select would have considered before the snapshot
// it chose (those taken at or before at) are passed over too, saying why.
func SelectValid(list []*Manifest, damaged []*DamagedError, kind string, at time.Time) (*Manifest, []Candidate, error) {
	m, skipped, err := Select(list, kind, at)
	var cands []Candidate
	for _, d := range damaged {
		k, t, ok := d.Kind()
		if !ok || k != kind || t.After(at) || m != nil && !t.After(m.Time) {
			continue
		}
		cands = append(cands, Candidate{Name: d.Name, Skipped: "damaged manifest: " + d.Err.Error()})
	}
	return m, append(cands, skipped...), err
}
