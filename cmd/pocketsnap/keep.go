package main

import (
	"strings"

	"github.com/pocketsnap/pocketsnap/config"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/retention"
)

// retention reads the retention policies (see config.Retention), with
// the --keep KIND=N flags over BACKUP_KEEP_<KIND>.
func (e *env) retention(flags []string, calendar retention.Policy) (config.Retention, error) {
	r, err := e.cfg.Retention(calendar, manifest.CheckKind)
	if err != nil {
		return r, err
	}
	for _, f := range flags {
		kind, v, _ := strings.Cut(f, "=")
		n, err := config.KeepCount(kind, v, manifest.CheckKind)
		if err != nil {
			return r, usageErrorf("--keep %s: %v (want KIND=N)", f, err)
		}
		r.Last[kind] = n
	}
	return r, nil
}
