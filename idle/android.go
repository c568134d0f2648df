package idle

import (
	"os"
	"path/filepath"
	"strings"
)

// androidRoot is where onAndroid looks for Android's files; tests point it
// at a fake tree.
var androidRoot = "/"

// onAndroid reports whether the process runs on Android's kernel: as an
// Android binary, in Termux, or inside a proot-distro Debian, which binds
// Android's /system and shares its seccomp filter.
func onAndroid() bool {
	if _, err := os.Stat(filepath.Join(androidRoot, "system", "build.prop")); err == nil {
		return true
	}
	release, err := os.ReadFile(filepath.Join(androidRoot, "proc", "sys", "kernel", "osrelease"))
	return err == nil && strings.Contains(strings.ToLower(string(release)), "android")
}

// IOClassAllowed reports whether Lower may set the I/O class, and why not.
// Android's seccomp filter allows ioprio_set and ioprio_get only to 64-bit
// processes and kills a 32-bit one with SIGSYS, so a 32-bit build never
// calls them there: its I/O priority then follows its niceness (best
// effort, level 7 at nice 19).
func IOClassAllowed() (ok bool, why string) {
	if is32bit && (isAndroidBuild || onAndroid()) {
		return false, "Android kills a 32-bit process that calls ioprio_set (SIGSYS), so the I/O priority follows the niceness"
	}
	return true, ""
}
