package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ParseBool reads a boolean the way every key takes one: true, 1, yes or
// on; false, 0, no or off; in any case.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false (nor 1/0, yes/no, on/off)", s)
}

// ParseDuration reads a duration the way every key takes one: Go's
// syntax (90s, 15m, 1h30m), with d for days of 24 hours (7d, 1d12h). It
// must not be negative.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration such as 90s, 15m, 6h or 7d", s)
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, bad
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, bad
	}
	return days + d, nil
}

// ParsePercent reads a whole percentage from 0 to 100, with or without
// a trailing %.
func ParsePercent(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil || n < 0 || n > 100 {
		return 0, fmt.Errorf("%q is not a percentage from 0 to 100", s)
	}
	return n, nil
}

var sizeRE = regexp.MustCompile(`^([0-9]+)([KMGTkmgt]?)(i?B)?$`)

// ParseSize reads a positive size in bytes: a number, optionally with a
// binary unit K, M, G or T (also written KiB, MiB…): 64M is 64 MiB,
// 67108864 bytes, as documented, unlike go-humanize's 10^6.
func ParseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %q: use bytes, or a number with K, M, G or T (binary: 64M is 64 MiB)", s)
	}
	shift := 0
	if m[2] != "" {
		shift = 10 * (1 + strings.Index("kmgt", strings.ToLower(m[2])))
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("invalid size %q: out of range", s)
	}
	return n << shift, nil
}

// parseCount reads a positive whole number.
func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a positive number", s)
	}
	return n, nil
}
