package compat

import (
	"testing"

	"github.com/pocketsnap/pocketsnap/internal/fsimage"
)

// Issue 21.3: classic archive parts stay under 4 GiB on FAT32, whether the
// kernel or FUSE mounts it, and keep the default size on exFAT.
func TestPartSizeFitsFAT32(t *testing.T) {
	for _, tc := range []struct {
		kind fsimage.Kind
		want int64
	}{{fsimage.VFAT, fat32MaxFile}, {fsimage.ExFAT, DefaultPartSize}} {
		t.Run(string(tc.kind), func(t *testing.T) {
			mnt := fsimage.Mount(t, tc.kind, 64<<20)
			w, err := NewWriter(mnt+"/db", Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			if got := w.out.limit; got != tc.want {
				t.Errorf("part size on %s: %d, want %d", tc.kind, got, tc.want)
			}
		})
	}
}
