//go:build !android

package idle

// isAndroidBuild: built with GOOS=android, so certainly on Android.
const isAndroidBuild = false
