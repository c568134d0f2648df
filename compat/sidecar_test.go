package compat

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSidecar(t *testing.T) {
	h := strings.Repeat("ab", 32)
	H := strings.ToUpper(h)
	in := h + "  db-1.tar.zst\n" + H + " *bin mode.tar.zst\n" + `\` + h + `  back\\slash\nnewline` + "\n" + h + "  last-without-newline"
	got, err := ParseSidecar([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Sum{{h, "db-1.tar.zst"}, {h, "bin mode.tar.zst"}, {h, "back\\slash\nnewline"}, {h, "last-without-newline"}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	for _, bad := range []string{"", "\n", h + " x\n", h + "  \n", "zz" + h[2:] + "  x\n", h[:10] + "  x\n", "SHA256 (x) = " + h + "\n"} {
		if _, err := ParseSidecar([]byte(bad)); err == nil {
			t.Errorf("ParseSidecar(%q) succeeded", bad)
		}
	}
}

// FuzzSidecar: what FormatSidecar writes, ParseSidecar reads back.
func FuzzSidecar(f *testing.F) {
	for _, name := range []string{"db-20261129T040000Z.tar.zst", "a b", "back\\slash", "new\nline", "cr\r", " lead", "*star"} {
		f.Add(name, byte(1))
	}
	f.Fuzz(func(t *testing.T, name string, b byte) {
		if name == "" || strings.ContainsRune(name, 0) {
			return
		}
		sums := []Sum{{SHA256: strings.Repeat(string("0123456789abcdef"[b%16]), 64), Name: name}}
		got, err := ParseSidecar(FormatSidecar(sums))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, sums) {
			t.Fatalf("round trip of %q gave %q", sums, got)
		}
	})
}

// FuzzParseSidecar feeds hostile sidecars to the parser: no panic, and
// whatever parses re-formats to something that parses the same.
func FuzzParseSidecar(f *testing.F) {
	h := strings.Repeat("ab", 32)
	for _, seed := range []string{h + "  db-20261129T040000Z.tar.zst\n", h + " *a\n" + h + "  b\n", "\\" + h + "  a\\nb\n", h + "  x"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sums, err := ParseSidecar(b)
		if err != nil {
			return
		}
		again, err := ParseSidecar(FormatSidecar(sums))
		if err != nil || !slices.Equal(again, sums) {
			t.Fatalf("parsed %q, re-formatted it and got %q, %v", sums, again, err)
		}
	})
}
