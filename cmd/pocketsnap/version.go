package main

import (
	"runtime"
	"runtime/debug"
)

// version is stamped by release builds (-ldflags "-X main.version=v1.2.3").
var version = ""

// versionString returns the version, falling back to the module version
// or VCS revision from the build info, and the Go version.
func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "" {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && (v == "" || v == "(devel)") && len(s.Value) >= 12 {
				v = "devel-" + s.Value[:12]
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return "pocketsnap " + v + " " + runtime.Version()
}
