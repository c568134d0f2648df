package prune

import (
	"strings"

	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/retention"
)

// complete reports whether an archive has both data and a sidecar. One
// that lacks either (a sidecar left alone, an archive being renamed into
// place) does not count towards the kind's count, as an incomplete
// snapshot does not: it goes once enough complete archives are newer.
func complete(a compat.Archive) bool {
	sidecars := 0
	for _, f := range a.Files {
		if strings.HasSuffix(f, compat.SidecarExt) {
			sidecars++
		}
	}
	return sidecars > 0 && sidecars < len(a.Files)
}

// dropArchives returns the archives the policy does not keep, oldest
// first.
func dropArchives(p retention.Policy, archives []compat.Archive) []compat.Archive {
	byName := map[string]compat.Archive{}
	items := make([]retention.Item, 0, len(archives))
	for _, a := range archives {
		byName[a.Name] = a
		items = append(items, retention.Item{Name: a.Name, Time: a.Time, Incomplete: !complete(a)})
	}
	var out []compat.Archive
	for _, d := range retention.Apply(p, items) {
		if !d.Keep {
			out = append(out, byName[d.Name])
		}
	}
	return out
}
