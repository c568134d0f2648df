package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/testenv"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// readmeSkipped are the README's command lines the README test does not
// run, each with why. Every entry must still be in the README.
var readmeSkipped = map[string]string{
	"go run ./cmd/pocketsnap backup demo --source .": "runs from a checkout; the test runs the built binary",
	"make test":         "the test suite itself",
	"pocketsnap config": "the install section's look at the phone's settings, before the key the test's environment names exists; config has its own tests",
	"pocketsnap rotate --forget db-20261128T030000Z":                                                           "names a damaged snapshot the examples' repository lacks; rotate --forget has its own test",
	"curl -LO https://github.com/pocketsnap/pocketsnap/releases/latest/download/pocketsnap-android-arm64":      "downloads a release; the test runs the built binary",
	"curl -LO https://github.com/pocketsnap/pocketsnap/releases/latest/download/SHA256SUMS":                    "downloads a release; the test runs the built binary",
	"sha256sum --check --ignore-missing SHA256SUMS":                                                            "checks the downloaded release",
	`install -m 0755 pocketsnap-android-arm64 "$PREFIX/bin/pocketsnap"`:                                        "installs the downloaded release",
	"pocketsnap backup db --db-stop-cmd 'systemctl stop conduwuit' --db-start-cmd 'systemctl start conduwuit'": "needs the phone's service manager",
	"pocketsnap push --dry-run": "needs a bucket",
	"pocketsnap push":           "needs a bucket",
	"pocketsnap push --limit-upload 200K --max-upload 50M":               "needs a bucket",
	"pocketsnap snapshots --remote":                                      "needs a bucket",
	"pocketsnap check --from=remote":                                     "needs a bucket",
	"pocketsnap check --from=remote --read-data-subset 50M":              "needs a bucket",
	"BACKUP_AGE_IDENTITY=~/pocket-key.txt pocketsnap init --from-remote": "needs a bucket",
	"BACKUP_AGE_IDENTITY=~/pocket-key.txt pocketsnap restore --from=remote --at 2026-11-28 --confirm=ERASE-AND-RESTORE": "needs a bucket",
	"BACKUP_AGE_IDENTITY=~/pocket-key.txt pocketsnap export --from=remote --kind db -o /tmp/":                           "needs a bucket",
	"exec pocketsnap daemon --env-file ~/pocket/.env 2>&1":                                                              "runs until stopped, under the phone's supervisor",
	"scripts/pocketsnap-recover REPO SNAPSHOT -i IDENTITY -f FINGERPRINT | zstd -d | tar -xpf - -C DIR":                 "placeholders; the recovery script has its own test",
	"sha256sum -c --ignore-missing NAME.sha256":                                                                         "placeholders: an archive written in parts",
	"cat NAME.part-* > NAME && sha256sum -c NAME.sha256":                                                                "placeholders: an archive written in parts",
}

// envAssignment is a line of an .env example, not a command.
var envAssignment = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=\S*(\s+#.*)?$`)

// readmeBlocks returns the command lines of each of the README's sh
// examples: comments, blank lines and .env assignments left out.
func readmeBlocks(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		var lines []string
		for _, line := range strings.Split(block[1], "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") || envAssignment.MatchString(line) {
				continue
			}
			// The comment after a command explains it: not shell input.
			if i := strings.Index(line, " # "); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			lines = append(lines, line)
		}
		out = append(out, lines)
	}
	return out
}

// Issue 18.21: every example of the README runs as written, against a
// local repository whose snapshots have the names the examples use, with
// only these substitutions: the example fingerprint becomes the
// repository's, and /tmp/ and /sdcard/ are directories of the test.
// Examples that need a bucket or the phone are listed in readmeSkipped.
func TestREADMEExamples(t *testing.T) {
	testenv.NeedTools(t, "age", "age-keygen", "zstd", "tar", "sha256sum", "jq", "bash")
	bin, err := exec.LookPath("pocketsnap")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	work, tmp, sdcard := filepath.Join(home, "work"), filepath.Join(home, "tmp"), filepath.Join(home, "sdcard")
	rootfs, notes := filepath.Join(home, "debian"), filepath.Join(home, "notes")
	for _, d := range []string{work, tmp, sdcard, filepath.Join(rootfs, "etc", "ssh"), filepath.Join(rootfs, "home", "u"), filepath.Join(rootfs, "var", "lib", "conduwuit", "db"), notes} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{
		"etc/ssh/sshd_config":             "Port 22\n",
		"etc/hostname":                    "phone\n",
		"home/u/.bashrc":                  "alias ll='ls -l'\n",
		"var/lib/conduwuit/db/CURRENT":    "MANIFEST-000001\n",
		"var/lib/conduwuit/db/000011.sst": strings.Repeat("sst", 1000),
	} {
		if err := os.WriteFile(filepath.Join(rootfs, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(notes, "todo.txt"), []byte("back up\n"), 0o644)
	// The laptop's identity is at hand, and the phone keeps more db
	// snapshots than its default 3, so that the examples' backups do not
	// retire the snapshots later examples name.
	env := []string{
		"PATH=" + filepath.Dir(bin) + ":" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + tmp,
		"ROOTFS_DIR=" + rootfs, "PREFIX=" + home, "BACKUP_AGE_IDENTITY=" + filepath.Join(home, "pocket-key.txt"),
		"BACKUP_KEEP_DB=50", "BACKUP_KEEP_ROOTFS=50",
		// The phone's .env names the commands that stop and start the
		// homeserver; a system restore refuses to act without them.
		"STACK_STOP_CMD=true", "STACK_START_CMD=true",
	}
	blocks := readmeBlocks(t)
	inREADME := map[string]bool{}
	for _, b := range blocks {
		for _, l := range b {
			inREADME[l] = true
		}
	}
	for l := range readmeSkipped {
		if !inREADME[l] {
			t.Errorf("readmeSkipped lists %q, which is no longer in the README", l)
		}
	}
	var fp chunkstore.Fingerprint
	ran := 0
	for i, block := range blocks {
		var script []string
		for _, line := range block {
			if why, ok := readmeSkipped[line]; ok {
				t.Logf("skipped (%s): %s", why, line)
				continue
			}
			script = append(script, line)
		}
		if len(script) == 0 {
			continue
		}
		if _, err := os.Stat(filepath.Join(home, "pocket-key.txt")); err == nil && fp == "" && strings.Contains(strings.Join(script, "\n"), "pocketsnap") {
			// The key exists now (the README's first commands make it):
			// the repository the examples name, in its default place.
			// The install section's 'pocketsnap version' and 'config'
			// come before it and run without one.
			fp = readmeFixture(t, home, rootfs, work, env)
		}
		// Each example has a /tmp (and /sdcard) of its own, as if the
		// reader cleaned up between them.
		tmpN := filepath.Join(tmp, strconv.Itoa(i))
		for _, d := range []string{tmpN, filepath.Join(sdcard, strconv.Itoa(i))} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		subst := strings.NewReplacer("yun7z-qpxav-av5mo-gypi5", string(fp), "/tmp/", tmpN+"/", "/sdcard/", filepath.Join(sdcard, strconv.Itoa(i))+"/")
		cmd := exec.Command("bash", "-o", "pipefail", "-exc", subst.Replace(strings.Join(script, "\n")))
		cmd.Dir, cmd.Env = work, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("README example failed (%v):\n%s\n--- output:\n%s", err, strings.Join(script, "\n"), out)
		}
		ran += len(script)
	}
	if ran < 30 {
		t.Errorf("ran only %d README examples", ran)
	}
}

// readmeFixture creates the repository the README's examples use, with
// snapshots of the names they give, and the classic archive they
// restore; it returns the repository's fingerprint.
func readmeFixture(t *testing.T, home, rootfs, work string, env []string) chunkstore.Fingerprint {
	t.Helper()
	recipient, err := exec.Command("age-keygen", "-y", filepath.Join(home, "pocket-key.txt")).Output()
	if err != nil {
		t.Fatalf("the README's age-keygen made no key: %v", err)
	}
	env = append(env, "BACKUP_AGE_RECIPIENT="+strings.TrimSpace(string(recipient)))
	s, err := chunkstore.Init(filepath.Join(home, ".local", "share", "pocketsnap", "backups", "repo"), []string{strings.TrimSpace(string(recipient))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, snap := range []struct{ kind, source, when string }{
		{"rootfs", rootfs, "20261101T040000Z"},
		{"db", filepath.Join(rootfs, "var", "lib", "conduwuit", "db"), "20261101T040000Z"},
		{"db", filepath.Join(rootfs, "var", "lib", "conduwuit", "db"), "20261128T040000Z"},
		{"rootfs", rootfs, "20261129T040000Z"},
		{"db", filepath.Join(rootfs, "var", "lib", "conduwuit", "db"), "20261129T040000Z"},
	} {
		at, err := time.Parse("20060102T150405Z", snap.when)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pipeline.Backup(context.Background(), s, pipeline.Options{
			Kind: snap.kind, Source: snap.source, Host: "phone", Tool: "test", Now: func() time.Time { return at },
		}); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	// The recipient the examples' phone has in its .env.
	if err := os.WriteFile(filepath.Join(work, ".env"), []byte("BACKUP_AGE_RECIPIENT="+strings.TrimSpace(string(recipient))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("pocketsnap", "export", "db-20261101T040000Z", "-o", work+"/")
	cmd.Dir, cmd.Env = work, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("export of the archive the README restores: %v\n%s", err, out)
	}
	return keys.Fingerprint()
}
