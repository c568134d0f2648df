package schedule

import (
	"fmt"
	"strconv"
	"time"
)

// Cadence is how often a job is due.
type Cadence int

// The cadences.
const (
	// Daily jobs are due at every wake.
	Daily Cadence = iota
	// Weekly jobs are due at the wake of each Monday.
	Weekly
	// Monthly jobs are due at the wake of the 1st of each month.
	Monthly
)

var cadenceNames = []string{Daily: "daily", Weekly: "weekly", Monthly: "monthly"}

// String returns the cadence's name: daily, weekly or monthly.
func (c Cadence) String() string {
	if int(c) < len(cadenceNames) {
		return cadenceNames[c]
	}
	return fmt.Sprintf("Cadence(%d)", int(c))
}

// ParseCadence parses daily, weekly or monthly.
func ParseCadence(s string) (Cadence, error) {
	for c, name := range cadenceNames {
		if s == name {
			return Cadence(c), nil
		}
	}
	return 0, fmt.Errorf("%q is not a cadence (want daily, weekly or monthly)", s)
}

// starts reports whether a period of the cadence starts on day d.
func (c Cadence) starts(d time.Time) bool {
	switch c {
	case Weekly:
		return d.Weekday() == time.Monday
	case Monthly:
		return d.Day() == 1
	}
	return true
}

// Wakes are the daily wake times: Hour:00 UTC every day.
type Wakes struct {
	// Hour is the hour of the day, 0 to 23, in UTC.
	Hour int
}

// ParseHour parses a wake hour, a whole number from 0 to 23.
func ParseHour(s string) (Wakes, error) {
	h, err := strconv.Atoi(s)
	if err != nil || h < 0 || h > 23 {
		return Wakes{}, fmt.Errorf("%q is not an hour from 0 to 23 (UTC)", s)
	}
	return Wakes{Hour: h}, nil
}

// Last returns the newest wake at or before t.
func (w Wakes) Last(t time.Time) time.Time {
	t = t.UTC()
	wake := time.Date(t.Year(), t.Month(), t.Day(), w.Hour, 0, 0, 0, time.UTC)
	if wake.After(t) {
		wake = wake.AddDate(0, 0, -1)
	}
	return wake
}

// Next returns the first wake after t.
func (w Wakes) Next(t time.Time) time.Time {
	return w.Last(t).AddDate(0, 0, 1)
}

// PeriodStart returns the start of the period of cadence c that contains
// t: the newest wake at or before t on a day that starts a period.
func (w Wakes) PeriodStart(c Cadence, t time.Time) time.Time {
	wake := w.Last(t)
	for !c.starts(wake) {
		wake = wake.AddDate(0, 0, -1)
	}
	return wake
}

// Due reports whether a job of cadence c that last succeeded at last (the
// zero time if never) is due at t.
func (w Wakes) Due(c Cadence, last, t time.Time) bool {
	return last.Before(w.PeriodStart(c, t))
}
