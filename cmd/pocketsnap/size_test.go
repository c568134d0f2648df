package main

import "testing"

// Issue 19: sizes given to pocketsnap stay binary, as documented (64M is
// 64 MiB), although go-humanize, which formats the sizes it prints, would
// read M as 10^6.
func TestByteSizeIsBinary(t *testing.T) {
	for in, want := range map[string]int64{
		"64M": 67108864, "64MiB": 67108864, "200K": 204800, "1g": 1 << 30, "2T": 2 << 40, "4096": 4096,
	} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("%q = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, bad := range []string{"", "1.5M", "-1", "0", "9E", "64 M", "99999999999T"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("%q accepted as %d", bad, b)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 512: "512 B", 1536: "1.5 KiB", 15 << 20: "15 MiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
