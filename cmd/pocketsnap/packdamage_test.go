package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// damagePacks rewrites every pack of repo with damage.
func damagePacks(t *testing.T, repo string, damage func([]byte) []byte) {
	t.Helper()
	for _, name := range packNames(t, repo) {
		p := filepath.Join(repo, "data", name[:2], name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, damage(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 17.6: a damaged pack is reported as corruption of that pack (exit
// 6), never as a wrong identity (exit 5); bytes appended to a pack are
// reported as appended, not as truncation.
func TestPackDamageNamesTheCause(t *testing.T) {
	v := newVictim(t)
	cases := []struct {
		name   string
		damage func([]byte) []byte
		want   []string
	}{
		{"header stanza", func(b []byte) []byte {
			// The third header line is the X25519 stanza's body (the
			// wrapped file key): change one base64 character for another.
			lines := bytes.SplitN(b, []byte("\n"), 4)
			if len(lines) < 4 || !bytes.HasPrefix(lines[1], []byte("-> X25519 ")) {
				t.Fatalf("not an age header: %q", b[:min(len(b), 80)])
			}
			i := len(lines[0]) + 1 + len(lines[1]) + 1 + 5
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return b
		}, []string{": corrupt: stored bytes hash to "}},
		{"appended", func(b []byte) []byte {
			return append(b, "appended by someone"...)
		}, []string{": corrupt: ", ": 19 bytes were appended after its end"}},
		{"truncated", func(b []byte) []byte {
			return b[:len(b)-7]
		}, []string{": corrupt: ", ": truncated ("}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repo := v.copyRepo(t, true)
			damagePacks(t, repo, tc.damage)
			refused(t, v.c, repo, v.snapshot, append([]string{"in pack "}, tc.want...))
			code, out := v.c.run("check", "--read-data", "--repo", repo)
			if code != exitVerify || !strings.Contains(out, "pocketsnap: error: pack ") {
				t.Errorf("check --read-data: exit %d, want %d naming the pack:\n%s", code, exitVerify, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("check --read-data does not say %q:\n%s", w, out)
				}
			}
			_, restore := v.c.run("restore", v.snapshot, "--target", filepath.Join(t.TempDir(), "t"), "--repo", repo)
			if strings.Contains(restore, "identity does not match") {
				t.Errorf("damage reported as a wrong identity:\n%s", restore)
			}
		})
	}
}
