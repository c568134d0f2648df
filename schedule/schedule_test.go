package schedule

import (
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWakes(t *testing.T) {
	w := Wakes{Hour: 4}
	for _, tc := range []struct{ now, last, next string }{
		{"2027-03-09 04:00", "2027-03-09 04:00", "2027-03-10 04:00"},
		{"2027-03-09 03:59", "2027-03-08 04:00", "2027-03-09 04:00"},
		{"2027-03-09 23:59", "2027-03-09 04:00", "2027-03-10 04:00"},
		{"2028-01-01 02:00", "2027-12-31 04:00", "2028-01-01 04:00"}, // year change
		{"2028-03-01 01:00", "2028-02-29 04:00", "2028-03-01 04:00"}, // leap day
		{"2027-03-01 01:00", "2027-02-28 04:00", "2027-03-01 04:00"},
	} {
		if got := w.Last(at(tc.now)); !got.Equal(at(tc.last)) {
			t.Errorf("Last(%s) = %s, want %s", tc.now, got, tc.last)
		}
		if got := w.Next(at(tc.now)); !got.Equal(at(tc.next)) {
			t.Errorf("Next(%s) = %s, want %s", tc.now, got, tc.next)
		}
	}
	// A time in another zone is the same instant.
	cet := time.FixedZone("CET", 3600)
	if got := w.Last(time.Date(2027, 3, 9, 4, 30, 0, 0, cet)); !got.Equal(at("2027-03-08 04:00")) {
		t.Errorf("Last of 04:30 CET (03:30 UTC) = %s", got)
	}
}

func TestPeriodStart(t *testing.T) {
	w := Wakes{Hour: 4}
	for _, tc := range []struct {
		c          Cadence
		now, start string
	}{
		{Daily, "2028-02-29 05:00", "2028-02-29 04:00"},
		{Weekly, "2027-03-08 04:00", "2027-03-08 04:00"}, // a Monday
		{Weekly, "2027-03-08 03:00", "2027-03-01 04:00"}, // before its wake
		{Weekly, "2027-03-14 23:00", "2027-03-08 04:00"}, // Sunday
		{Weekly, "2028-01-01 12:00", "2027-12-27 04:00"}, // across the year
		{Weekly, "2028-03-01 12:00", "2028-02-28 04:00"}, // across the leap day
		{Monthly, "2028-02-29 12:00", "2028-02-01 04:00"},
		{Monthly, "2028-03-01 03:59", "2028-02-01 04:00"},
		{Monthly, "2028-03-01 04:00", "2028-03-01 04:00"},
		{Monthly, "2028-01-01 03:00", "2027-12-01 04:00"},
	} {
		if got := w.PeriodStart(tc.c, at(tc.now)); !got.Equal(at(tc.start)) {
			t.Errorf("PeriodStart(%s, %s) = %s, want %s", tc.c, tc.now, got, tc.start)
		}
	}
}

func TestDue(t *testing.T) {
	w := Wakes{Hour: 0}
	now := at("2027-03-09 10:00")
	for _, tc := range []struct {
		c    Cadence
		last time.Time
		want bool
	}{
		{Daily, time.Time{}, true},
		{Daily, at("2027-03-09 00:00"), false},
		{Daily, at("2027-03-08 23:59"), true},
		{Weekly, at("2027-03-08 00:00"), false},
		{Weekly, at("2027-03-07 12:00"), true},
		{Monthly, at("2027-03-01 00:00"), false},
		{Monthly, at("2027-02-28 23:00"), true},
	} {
		if got := w.Due(tc.c, tc.last, now); got != tc.want {
			t.Errorf("Due(%s, last %s) = %v, want %v", tc.c, tc.last, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for s, want := range map[string]Cadence{"daily": Daily, "weekly": Weekly, "monthly": Monthly} {
		if c, err := ParseCadence(s); err != nil || c != want || c.String() != s {
			t.Errorf("ParseCadence(%q) = %v, %v", s, c, err)
		}
	}
	for _, s := range []string{"", "Daily", "hourly"} {
		if _, err := ParseCadence(s); err == nil {
			t.Errorf("ParseCadence(%q) succeeded", s)
		}
	}
	for s, want := range map[string]int{"0": 0, "4": 4, "04": 4, "23": 23} {
		if w, err := ParseHour(s); err != nil || w.Hour != want {
			t.Errorf("ParseHour(%q) = %v, %v", s, w, err)
		}
	}
	for _, s := range []string{"", "24", "-1", "4am", "4.5"} {
		if _, err := ParseHour(s); err == nil {
			t.Errorf("ParseHour(%q) succeeded", s)
		}
	}
}
