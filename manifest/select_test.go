package manifest

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"20261129T040000Z", time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)},
		{"db-20261129T040000Z", time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)},
		{"2026-11-29T05:30:00+01:00", time.Date(2026, 11, 29, 4, 30, 0, 0, time.UTC)},
		{"2026-11-28", time.Date(2026, 11, 28, 23, 59, 59, 0, time.UTC)},
		{"2024-02-29", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)},
		{"36h", now.Add(-36 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"3d", now.Add(-72 * time.Hour)},
		{"0d", now},
	} {
		got, err := ParseTime(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-3d", "2026-02-30", "20261129T040000", "3w", "-1h"} {
		if _, err := ParseTime(bad, now); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

func snap(kind, stamp string, incomplete bool) *Manifest {
	n := kind + "-" + stamp
	_, tm, _ := ParseName(n)
	return &Manifest{Name: n, Kind: kind, Time: tm, Incomplete: incomplete}
}

func TestSelect(t *testing.T) {
	list := []*Manifest{
		snap("db", "20261101T040000Z", false),
		snap("rootfs", "20261101T050000Z", false),
		snap("db", "20261102T040000Z", false),
		snap("db", "20261103T040000Z", true),
		snap("db", "20261104T040000Z", false),
	}
	for _, tc := range []struct {
		kind, at, want, skipped, err string
	}{
		{kind: "db", at: "20261104T040000Z", want: "db-20261104T040000Z"}, // exact stamp
		{kind: "db", at: "20261104T035959Z", want: "db-20261102T040000Z", skipped: "db-20261103T040000Z"},
		{kind: "db", at: "2026-11-02", want: "db-20261102T040000Z"},       // a date means its end
		{kind: "db", at: "20301231T000000Z", want: "db-20261104T040000Z"}, // future: the latest
		{kind: "db", at: "20261031T000000Z", err: "no db snapshot at or before 2026-10-31T00:00:00Z: the first is db-20261101T040000Z"},
		{kind: "rootfs", at: "20261130T000000Z", want: "rootfs-20261101T050000Z"},
		{kind: "notes", at: "20261130T000000Z", err: "no notes snapshot in the repository"},
	} {
		at, err := ParseTime(tc.at, now)
		if err != nil {
			t.Fatal(err)
		}
		m, skipped, err := Select(list, tc.kind, at)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Select(%s, %s) error = %v, want %q", tc.kind, tc.at, err, tc.err)
			}
			continue
		}
		if err != nil || m.Name != tc.want {
			t.Errorf("Select(%s, %s) = %v, %v; want %s", tc.kind, tc.at, m, err, tc.want)
			continue
		}
		if (tc.skipped == "") != (len(skipped) == 0) || (tc.skipped != "" && skipped[0].Manifest.Name != tc.skipped) {
			t.Errorf("Select(%s, %s) skipped %v, want %q", tc.kind, tc.at, skipped, tc.skipped)
		}
	}
	// Only incomplete snapshots: a clear error, never one of them.
	only := []*Manifest{snap("db", "20261101T040000Z", true)}
	if _, skipped, err := Select(only, "db", now); err == nil || len(skipped) != 1 || !strings.Contains(err.Error(), "no complete db snapshot") {
		t.Errorf("only incomplete: %v %v", skipped, err)
	}
}
