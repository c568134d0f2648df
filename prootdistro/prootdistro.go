// Package prootdistro finds the rootfs of a proot-distro container in
// Termux, for ROOTFS_DIR's default.
//
// proot-distro 5 keeps a container's rootfs at
// $PREFIX/var/lib/proot-distro/containers/<name>/rootfs; earlier versions
// kept it at $PREFIX/var/lib/proot-distro/installed-rootfs/<name>, which
// proot-distro 5 moves to the new place on first login. A phone may have
// either.
//
// The API is not stable before v1.
package prootdistro

import (
	"os"
	"path/filepath"
)

// Layout names where a rootfs was found.
type Layout string

// The layouts Rootfs knows.
const (
	Containers Layout = "proot-distro 5 (containers/<name>/rootfs)"
	Legacy     Layout = "proot-distro before 5 (installed-rootfs/<name>)"
	NotFound   Layout = "not found"
)

// Rootfs returns the rootfs directory of container name below Termux's
// prefix and the layout it was found in: proot-distro 5's when it exists,
// else the legacy one when that exists, else proot-distro 5's path with
// NotFound.
func Rootfs(prefix, name string) (string, Layout) {
	base := filepath.Join(prefix, "var", "lib", "proot-distro")
	v5 := filepath.Join(base, "containers", name, "rootfs")
	if isDir(v5) {
		return v5, Containers
	}
	if legacy := filepath.Join(base, "installed-rootfs", name); isDir(legacy) {
		return legacy, Legacy
	}
	return v5, NotFound
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
