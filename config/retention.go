package config

import (
	"fmt"

	"github.com/pocketsnap/pocketsnap/retention"
)

// KeepFamily are the retention counts' keys, BACKUP_KEEP_DB and
// BACKUP_KEEP_ROOTFS (with the old rotate-backups.sh's defaults) and any
// other kind's; a kind without one keeps everything.
const KeepFamily = "BACKUP_KEEP_" + kindPattern

// Retention is the retention policy of every kind: the count of newest
// snapshots each kind keeps, and the calendar rules for every kind.
type Retention struct {
	// Last is the count kept of each kind; a kind not in it keeps all.
	Last map[string]int
	// Calendar are the calendar rules, for every kind.
	Calendar retention.Policy
}

// Of returns the policy of kind's snapshots.
func (r Retention) Of(kind string) retention.Policy {
	p := r.Calendar
	p.Last = r.Last[kind]
	return p
}

// Retention reads the counts BACKUP_KEEP_<KIND> (their defaults, then the
// env file's and environment's) with the calendar rules. checkKind
// validates a kind: config knows no snapshots, so the caller gives
// manifest.CheckKind. An error names the key and where it was set.
func (c *Config) Retention(calendar retention.Policy, checkKind func(string) error) (Retention, error) {
	r := Retention{Last: map[string]int{}, Calendar: calendar}
	for _, key := range c.Members(KeepFamily) {
		kind := Kind(KeepFamily, key)
		n, err := KeepCount(kind, c.Value(key), checkKind)
		if err != nil {
			return r, fmt.Errorf("%s (%s): %w", key, c.Source(key), err)
		}
		r.Last[kind] = n
	}
	return r, nil
}

// KeepCount reads v, a count of kind's snapshots to keep, as
// BACKUP_KEEP_<KIND> and the --keep KIND=N flag take one; checkKind
// validates kind.
func KeepCount(kind, v string, checkKind func(string) error) (int, error) {
	if err := checkKind(kind); err != nil {
		return 0, err
	}
	n, err := parseCount(v)
	if err != nil {
		return 0, countError(KindKey(KeepFamily, kind), v)
	}
	return n, nil
}

// countError is the error of a retention count key given v, which is not
// a positive number; it says what unset means for that key (issue 18.19).
func countError(key, v string) error {
	return fmt.Errorf("%q is not a positive number of snapshots (%s)", v, UnsetCount(key))
}
