//go:build linux

package fsimage

import (
	"os"
	"path/filepath"
	"testing"
)

// Issue 21.3: the images are what a phone's SD card is: FAT names are
// case-insensitive and there are no symlinks.
func TestMountedImagesBehaveLikeAnSDCard(t *testing.T) {
	for _, k := range []Kind{ExFAT, VFAT} {
		t.Run(string(k), func(t *testing.T) {
			mnt := Mount(t, k, 64<<20)
			if err := os.WriteFile(filepath.Join(mnt, "Name"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(mnt, "NAME")); err != nil {
				t.Errorf("%s: Name is not found as NAME: %v", k, err)
			}
			if err := os.Symlink("Name", filepath.Join(mnt, "link")); err == nil {
				t.Errorf("%s: a symlink was created", k)
			}
		})
	}
}
