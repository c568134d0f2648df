package main

import "testing"

// Issue 19: the --part-size, --limit-upload and --max-upload flags read
// sizes as config.ParseSize does (binary, pinned there), keep their value
// on a bad one, and print sizes with humanBytes (go-humanize's IEC units).
func TestByteSizeFlag(t *testing.T) {
	b := byteSize(5)
	if err := b.Set("64M"); err != nil || b != 64<<20 || b.String() != "64MiB" {
		t.Errorf("64M = %d (%s), %v", b, b.String(), err)
	}
	if err := b.Set("1.5M"); err == nil || b != 64<<20 {
		t.Errorf("a bad size: %v, value now %d", err, b)
	}
	for n, want := range map[int64]string{0: "0 B", 512: "512 B", 1536: "1.5 KiB", 15 << 20: "15 MiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
