package idle

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeAndroid points onAndroid at a tree holding file with content.
func fakeAndroid(t *testing.T, file, content string) {
	t.Helper()
	root := t.TempDir()
	p := filepath.Join(root, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	old := androidRoot
	androidRoot = root
	t.Cleanup(func() { androidRoot = old })
}

// Issue 21.6: on Android a 32-bit build never calls ioprio_set, which the
// seccomp filter kills it for; a 64-bit one does. scripts/test-cross runs
// this test as an armv7 binary too, where the 32-bit branch is taken.
func TestIOClassAllowedOnAndroid(t *testing.T) {
	for _, tc := range []struct{ name, file, content string }{
		{"Termux or proot (Android's /system)", "system/build.prop", "ro.build.version.sdk=34\n"},
		{"an Android kernel", "proc/sys/kernel/osrelease", "5.15.137-android14-11-gb0c1d4a\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakeAndroid(t, tc.file, tc.content)
			ok, why := IOClassAllowed()
			if ok == is32bit {
				t.Errorf("32-bit build %v: IOClassAllowed() = %v, want %v", is32bit, ok, !is32bit)
			}
			if !ok && !strings.Contains(why, "SIGSYS") {
				t.Errorf("the reason %q does not say what Android does", why)
			}
			d, err := Describe(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			if !ok && !strings.Contains(d, "I/O class not set: "+why) {
				t.Errorf("Describe = %q, want it to say why the I/O class is not set", d)
			}
		})
	}
	t.Run("not Android", func(t *testing.T) {
		fakeAndroid(t, "proc/sys/kernel/osrelease", "6.1.0-28-amd64\n")
		if ok, why := IOClassAllowed(); !ok && !isAndroidBuild {
			t.Errorf("a plain Linux kernel: IOClassAllowed() = false (%s)", why)
		}
	})
}

// Issue 21.6: Describe reports what the process really has: this test
// process was not lowered.
func TestDescribeUnloweredProcess(t *testing.T) {
	if ok, _ := IOClassAllowed(); !ok {
		t.Skip("this machine is Android with a 32-bit build: covered by TestIOClassAllowedOnAndroid")
	}
	d, err := Describe(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^nice -?\d+, I/O class not set \(it follows the niceness\)$`).MatchString(d) {
		t.Errorf("Describe(self) = %q, want the niceness and that no I/O class is set", d)
	}
}
