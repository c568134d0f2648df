package retention

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// items makes complete items named after their times; a time ending in
// "!" makes an incomplete one.
func items(times ...string) []Item {
	var out []Item
	for _, s := range times {
		inc := s[len(s)-1] == '!'
		if inc {
			s = s[:len(s)-1]
		}
		out = append(out, Item{Name: s, Time: at(s), Incomplete: inc})
	}
	return out
}

func kept(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		if d.Keep {
			out = append(out, d.Name)
		}
	}
	return out
}

// Issue 5, acceptance 5: the keep rules over synthetic snapshot times.
func TestApply(t *testing.T) {
	days := items("2026-11-24T04:00:00Z", "2026-11-25T04:00:00Z", "2026-11-26T04:00:00Z",
		"2026-11-27T04:00:00Z", "2026-11-28T04:00:00Z", "2026-11-29T04:00:00Z")
	tests := []struct {
		name  string
		p     Policy
		items []Item
		want  []string // kept, newest first
	}{
		{"no rule keeps everything, incomplete too", Policy{},
			items("2026-11-28T04:00:00Z!", "2026-11-29T04:00:00Z"),
			[]string{"2026-11-29T04:00:00Z", "2026-11-28T04:00:00Z"}},
		{"newest 3 of 6", Policy{Last: 3}, days,
			[]string{"2026-11-29T04:00:00Z", "2026-11-28T04:00:00Z", "2026-11-27T04:00:00Z"}},
		{"more allowed than there are", Policy{Last: 10}, days[:2],
			[]string{"2026-11-25T04:00:00Z", "2026-11-24T04:00:00Z"}},
		{"input order does not matter", Policy{Last: 2},
			[]Item{days[3], days[0], days[5], days[1]},
			[]string{"2026-11-29T04:00:00Z", "2026-11-27T04:00:00Z"}},
		{"incomplete never counts, kept until 3 complete newer are kept", Policy{Last: 3},
			items("2026-11-23T04:00:00Z", "2026-11-24T04:00:00Z!", "2026-11-25T04:00:00Z",
				"2026-11-26T04:00:00Z", "2026-11-27T04:00:00Z!", "2026-11-28T04:00:00Z",
				"2026-11-29T04:00:00Z!"),
			[]string{"2026-11-29T04:00:00Z", "2026-11-28T04:00:00Z", "2026-11-27T04:00:00Z",
				"2026-11-26T04:00:00Z", "2026-11-25T04:00:00Z"}},
		{"only incomplete snapshots: all kept", Policy{Last: 1},
			items("2026-11-28T04:00:00Z!", "2026-11-29T04:00:00Z!"),
			[]string{"2026-11-29T04:00:00Z", "2026-11-28T04:00:00Z"}},
		{"calendar rules only: incomplete kept until one complete newer", Policy{Daily: 5},
			items("2026-11-27T04:00:00Z!", "2026-11-28T04:00:00Z", "2026-11-29T04:00:00Z!"),
			[]string{"2026-11-29T04:00:00Z", "2026-11-28T04:00:00Z"}},
		{"daily: newest of each day, across a leap day", Policy{Daily: 3},
			items("2024-02-27T12:00:00Z", "2024-02-28T00:00:00Z", "2024-02-28T23:59:59Z",
				"2024-02-29T00:00:00Z", "2024-02-29T23:59:59Z", "2024-03-01T00:00:00Z"),
			[]string{"2024-03-01T00:00:00Z", "2024-02-29T23:59:59Z", "2024-02-28T23:59:59Z"}},
		{"daily skips days without snapshots", Policy{Daily: 2},
			items("2026-11-01T04:00:00Z", "2026-11-20T04:00:00Z", "2026-11-29T04:00:00Z"),
			[]string{"2026-11-29T04:00:00Z", "2026-11-20T04:00:00Z"}},
		{"monthly over month ends, a leap February and a year change", Policy{Monthly: 4},
			items("2023-11-30T23:59:59Z", "2023-12-31T23:59:59Z", "2024-01-01T00:00:00Z",
				"2024-01-31T23:59:59Z", "2024-02-28T10:00:00Z", "2024-02-29T10:00:00Z",
				"2024-03-01T00:00:00Z", "2024-03-31T23:59:59Z"),
			[]string{"2024-03-31T23:59:59Z", "2024-02-29T10:00:00Z", "2024-01-31T23:59:59Z",
				"2023-12-31T23:59:59Z"}},
		{"weekly uses ISO weeks: 2020-12-31 and 2021-01-03 are both 2020-W53", Policy{Weekly: 2},
			items("2020-12-28T04:00:00Z", "2020-12-31T04:00:00Z", "2021-01-03T04:00:00Z", "2021-01-04T04:00:00Z"),
			[]string{"2021-01-04T04:00:00Z", "2021-01-03T04:00:00Z"}},
		{"weekly: 2024-12-30 is in 2025-W01, 2024-12-29 in 2024-W52", Policy{Weekly: 2},
			items("2024-12-23T04:00:00Z", "2024-12-29T04:00:00Z", "2024-12-30T04:00:00Z", "2025-01-02T04:00:00Z"),
			[]string{"2025-01-02T04:00:00Z", "2024-12-29T04:00:00Z"}},
		{"calendar buckets are UTC whatever the zone of the time", Policy{Daily: 1},
			[]Item{
				{Name: "a", Time: time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC)},
				{Name: "b", Time: time.Date(2024, 3, 1, 0, 30, 0, 0, time.FixedZone("EET", 2*3600))},
			},
			[]string{"b"}},
		{"a snapshot kept by any rule is kept", Policy{Last: 1, Monthly: 2},
			items("2026-10-15T04:00:00Z", "2026-10-31T04:00:00Z", "2026-11-28T04:00:00Z", "2026-11-29T04:00:00Z"),
			[]string{"2026-11-29T04:00:00Z", "2026-10-31T04:00:00Z"}},
		{"incomplete snapshots do not take a bucket", Policy{Daily: 1},
			items("2026-11-29T01:00:00Z", "2026-11-29T02:00:00Z!"),
			[]string{"2026-11-29T02:00:00Z", "2026-11-29T01:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kept(Apply(tt.p, tt.items))
			if !slices.Equal(got, tt.want) {
				t.Errorf("kept %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestApplyReasons(t *testing.T) {
	ds := Apply(Policy{Last: 1, Daily: 2}, items("2026-11-28T04:00:00Z", "2026-11-29T04:00:00Z", "2026-11-29T05:00:00Z!"))
	want := [][]string{{"incomplete"}, {"last", "daily"}, {"daily"}}
	for i, d := range ds {
		if !slices.Equal(d.Reasons, want[i]) {
			t.Errorf("%s: reasons %q, want %q", d.Name, d.Reasons, want[i])
		}
	}
}

// Dropping what Apply does not keep never changes what it keeps, so a
// rotation killed halfway finishes the same job when run again.
func TestApplyIsStable(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	base := at("2023-12-20T00:00:00Z")
	for i := range 500 {
		var its []Item
		for j := range 1 + r.IntN(40) {
			// Hours to weeks apart, some incomplete.
			t := base.Add(time.Duration(r.Int64N(int64(120 * 24 * time.Hour))))
			its = append(its, Item{Name: fmt.Sprint(j), Time: t.Truncate(time.Second), Incomplete: r.IntN(5) == 0})
		}
		p := Policy{Last: r.IntN(4), Daily: r.IntN(4), Weekly: r.IntN(3), Monthly: r.IntN(3)}
		first := Apply(p, its)
		var survivors []Item
		for _, d := range first {
			if d.Keep {
				survivors = append(survivors, d.Item)
			}
		}
		again := Apply(p, survivors)
		if got := kept(again); len(got) != len(survivors) {
			t.Fatalf("case %d, %+v: kept %d of %d survivors", i, p, len(got), len(survivors))
		}
	}
}

func TestPolicyString(t *testing.T) {
	for p, want := range map[Policy]string{
		{}:                              "everything",
		{Last: 3}:                       "the newest 3",
		{Last: 4, Daily: 7, Monthly: 2}: "the newest 4, 7 daily, 2 monthly",
	} {
		if got := p.String(); got != want {
			t.Errorf("%+v: %q, want %q", p, got, want)
		}
	}
}
