package retention

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Policy says which snapshots of one kind to keep. A snapshot kept by any
// rule is kept; the zero Policy keeps everything.
type Policy struct {
	// Last keeps the newest Last complete snapshots.
	Last int
	// Daily, Weekly and Monthly keep the newest complete snapshot of each
	// of the newest Daily days, Weekly ISO weeks and Monthly months (UTC)
	// that have one.
	Daily, Weekly, Monthly int
}

// KeepsAll reports whether the policy has no rule and so keeps everything.
func (p Policy) KeepsAll() bool { return p == Policy{} }

// String describes the policy, e.g. "the newest 3, 7 daily".
func (p Policy) String() string {
	if p.KeepsAll() {
		return "everything"
	}
	var s string
	for _, r := range p.rules() {
		if r.n <= 0 {
			continue
		}
		if s != "" {
			s += ", "
		}
		if r.bucket == nil {
			s += fmt.Sprintf("the newest %d", r.n)
		} else {
			s += fmt.Sprintf("%d %s", r.n, r.name)
		}
	}
	return s
}

// Item is a snapshot or archive to decide on.
type Item struct {
	Name string
	Time time.Time
	// Incomplete items never count towards a rule.
	Incomplete bool
}

// Decision is the verdict on one item.
type Decision struct {
	Item
	Keep bool
	// Reasons name the rules that keep the item: "last", "daily",
	// "weekly", "monthly", "incomplete" or "no rule".
	Reasons []string
}

// rule keeps the newest complete item of each of the newest n buckets;
// a nil bucket makes every item its own bucket.
type rule struct {
	name   string
	n      int
	bucket func(time.Time) int
}

func (p Policy) rules() []rule {
	return []rule{
		{"last", p.Last, nil},
		{"daily", p.Daily, func(t time.Time) int { y, m, d := t.Date(); return (y*100+int(m))*100 + d }},
		{"weekly", p.Weekly, func(t time.Time) int { y, w := t.ISOWeek(); return y*100 + w }},
		{"monthly", p.Monthly, func(t time.Time) int { y, m, _ := t.Date(); return y*100 + int(m) }},
	}
}

// Apply decides on the items of one kind under p. The decisions come
// newest first.
func Apply(p Policy, items []Item) []Decision {
	out := make([]Decision, len(items))
	for i, it := range items {
		out[i] = Decision{Item: it}
	}
	slices.SortFunc(out, func(a, b Decision) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.Name, a.Name))
	})
	if p.KeepsAll() {
		for i := range out {
			out[i].keep("no rule")
		}
		return out
	}
	for _, r := range p.rules() {
		r.apply(out)
	}
	keptNewer := 0
	for i := range out {
		switch {
		case !out[i].Incomplete:
			if out[i].Keep {
				keptNewer++
			}
		case keptNewer < max(p.Last, 1):
			out[i].keep("incomplete")
		}
	}
	return out
}

func (r rule) apply(out []Decision) {
	seen, last := 0, 0
	for i := range out {
		if seen >= r.n {
			return
		}
		if out[i].Incomplete {
			continue
		}
		key := i
		if r.bucket != nil {
			key = r.bucket(out[i].Time.UTC())
		}
		if seen > 0 && key == last {
			continue
		}
		seen, last = seen+1, key
		out[i].keep(r.name)
	}
}

func (d *Decision) keep(reason string) {
	d.Keep = true
	d.Reasons = append(d.Reasons, reason)
}
