package compat

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// fat32MaxFile is the largest file FAT32 holds: 4 GiB less one byte.
const fat32MaxFile int64 = 4<<30 - 1

// maxFileSize returns the largest file the filesystem holding dir can
// store, or 0 when it sets no limit below DefaultPartSize. Only FAT
// (vfat, msdos, or FAT through FUSE, as on an SD card) does: exFAT has
// no such limit.
func maxFileSize(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0
	}
	switch st.Type {
	case unix.MSDOS_SUPER_MAGIC:
		return fat32MaxFile
	case unix.FUSE_SUPER_MAGIC:
		if t := mountType(dir); strings.Contains(t, "fat") && !strings.Contains(t, "exfat") {
			return fat32MaxFile
		}
	}
	return 0
}

// mountType is the filesystem type /proc/self/mountinfo gives the mount
// holding dir (e.g. "fuse.fusefat"), "" when unknown.
func mountType(dir string) string {
	abs, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return ""
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	best, typ := -1, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID parent major:minor root mountpoint options [optional...] - type source super
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, fl := range fields {
			if fl == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+1 >= len(fields) {
			continue
		}
		mp := unescapeMount(fields[4])
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, typ = len(mp), fields[sep+1]
		}
	}
	return typ
}

// unescapeMount undoes mountinfo's octal escapes of space, tab, newline
// and backslash.
func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}
