package config

import "testing"

// Issue 19: sizes given to pocketsnap stay binary, as documented (64M is
// 64 MiB), although go-humanize, which formats the sizes it prints, would
// read M as 10^6.
func TestParseSizeIsBinary(t *testing.T) {
	for in, want := range map[string]int64{
		"64M": 67108864, "64MiB": 67108864, "200K": 204800, "1g": 1 << 30, "2T": 2 << 40, "4096": 4096,
	} {
		if n, err := ParseSize(in); err != nil || n != want {
			t.Errorf("%q = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, bad := range []string{"", "1.5M", "-1", "0", "9E", "64 M", "99999999999T"} {
		if n, err := ParseSize(bad); err == nil {
			t.Errorf("%q accepted as %d", bad, n)
		}
	}
}
