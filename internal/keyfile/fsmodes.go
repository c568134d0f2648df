package keyfile

import (
	"golang.org/x/sys/unix"
)

// sdcardfsMagic is the statfs f_type of Android's sdcardfs, which
// golang.org/x/sys/unix does not name.
const sdcardfsMagic = 0x5dca2df5

// NoModesFS names the filesystem holding path when it keeps no permission
// bits, as an SD card's exFAT or FAT32 and Android's shared storage do (a
// FUSE mount is counted too: that is how phones and tests mount them), and
// returns "" otherwise. There a file cannot be made private with chmod.
func NoModesFS(path string) string {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return ""
	}
	switch st.Type {
	case unix.MSDOS_SUPER_MAGIC:
		return "FAT"
	case unix.EXFAT_SUPER_MAGIC:
		return "exFAT"
	case unix.FUSE_SUPER_MAGIC:
		return "FUSE (an SD card or shared storage)"
	case sdcardfsMagic:
		return "sdcardfs (Android shared storage)"
	}
	return ""
}
