package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pocketsnap/pocketsnap/config"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/retention"
)

// keepFamily are the retention counts' keys, BACKUP_KEEP_DB and
// BACKUP_KEEP_ROOTFS (with the old rotate-backups.sh's defaults) and any
// other kind's; a kind without one keeps everything.
const keepFamily = "BACKUP_KEEP_<KIND>"

// keepPolicies are the retention policies of every kind.
type keepPolicies struct {
	last     map[string]int
	calendar retention.Policy // the calendar rules, for every kind
}

func (k keepPolicies) of(kind string) retention.Policy {
	p := k.calendar
	p.Last = k.last[kind]
	return p
}

// keepPolicies reads the counts: the defaults, then BACKUP_KEEP_<KIND>
// from the configuration, then the --keep KIND=N flags.
func (e *env) keepPolicies(flags []string, calendar retention.Policy) (keepPolicies, error) {
	k := keepPolicies{last: map[string]int{}, calendar: calendar}
	for _, key := range e.cfg.Members(keepFamily) {
		kind := config.Kind(keepFamily, key)
		n, err := keepCount(kind, e.cfg.Value(key))
		if err != nil {
			return k, fmt.Errorf("%s (%s): %w", key, e.cfg.Source(key), err)
		}
		k.last[kind] = n
	}
	for _, f := range flags {
		kind, v, _ := strings.Cut(f, "=")
		n, err := keepCount(kind, v)
		if err != nil {
			return k, usageErrorf("--keep %s: %v (want KIND=N)", f, err)
		}
		k.last[kind] = n
	}
	return k, nil
}

func keepCount(kind, v string) (int, error) {
	if err := manifest.CheckKind(kind); err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		// Issue 18.19: say what unset really means for this kind.
		return 0, fmt.Errorf("%q is not a positive number of snapshots (%s)", v, config.UnsetCount("BACKUP_KEEP_"+strings.ToUpper(kind)))
	}
	return n, nil
}
