package manifest

import (
	"errors"
	"slices"
	"testing"
)

// Issue 19.4: ls's choice of entries, moved out of the CLI: paths as
// people write them select an entry and all below it, each entry once;
// a path that names nothing is named in the error, and one inside
// another path is not reported missing.
func TestEntries(t *testing.T) {
	m := &Manifest{Name: "rootfs-20261129T040000Z"}
	m.SetDetails(&Details{Files: []File{
		{Path: "."}, {Path: "etc"}, {Path: "etc/ssh"}, {Path: "etc/ssh/sshd_config"}, {Path: "etc/sshd"}, {Path: "var"},
	}})
	for _, tc := range []struct {
		paths []string
		want  []string
	}{
		{nil, []string{".", "etc", "etc/ssh", "etc/ssh/sshd_config", "etc/sshd", "var"}},
		{[]string{"/etc/ssh/"}, []string{"etc/ssh", "etc/ssh/sshd_config"}},
		{[]string{"./var", "etc/ssh/sshd_config"}, []string{"etc/ssh/sshd_config", "var"}},
		{[]string{"etc", "etc/ssh"}, []string{"etc", "etc/ssh", "etc/ssh/sshd_config", "etc/sshd"}},
		{[]string{"/"}, []string{".", "etc", "etc/ssh", "etc/ssh/sshd_config", "etc/sshd", "var"}},
	} {
		got, err := m.Entries(tc.paths...)
		if err != nil {
			t.Fatalf("Entries(%q): %v", tc.paths, err)
		}
		var paths []string
		for _, f := range got {
			paths = append(paths, f.Path)
		}
		if !slices.Equal(paths, tc.want) {
			t.Errorf("Entries(%q) = %q, want %q", tc.paths, paths, tc.want)
		}
	}
	_, err := m.Entries("etc", "/nope")
	var ne *NoEntryError
	if !errors.As(err, &ne) || ne.Path != "/nope" || err.Error() != "no entry /nope in snapshot rootfs-20261129T040000Z" {
		t.Fatalf("Entries with a missing path: %v", err)
	}
}
