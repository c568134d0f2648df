//go:build !linux

package compat

// maxFileSize returns 0: no filesystem limit is known on this system.
func maxFileSize(string) int64 { return 0 }
