package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// ui writes human messages: results to stdout, everything else to stderr
// as "pocketsnap: error: …", "pocketsnap: warning: …", "pocketsnap: hint: …".
type ui struct {
	stdout, stderr io.Writer
	quiet          bool
}

func (u *ui) errorf(format string, a ...any) { u.line("error", format, a...) }
func (u *ui) hintf(format string, a ...any)  { u.line("hint", format, a...) }
func (u *ui) warnf(format string, a ...any)  { u.line("warning", format, a...) }

func (u *ui) infof(format string, a ...any) {
	if !u.quiet {
		fmt.Fprintf(u.stderr, format+"\n", a...)
	}
}

func (u *ui) line(level, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	fmt.Fprintf(u.stderr, "pocketsnap: %s: %s\n", level, strings.ReplaceAll(msg, "\n", "\n  "))
}

// terminal reports whether stderr is a terminal, where progress is shown.
func (u *ui) terminal() bool {
	f, ok := u.stderr.(*os.File)
	return ok && !u.quiet && term.IsTerminal(int(f.Fd()))
}

func (u *ui) usage() {
	var b strings.Builder
	b.WriteString(`pocketsnap backs up a phone's Debian userland (rootfs) and Matrix database (db)
into a deduplicated repository of zstd-compressed, age-encrypted packs, and
restores them. The phone needs only the age recipient (public key); the
identity (private key) is brought in only to restore.

Usage: pocketsnap COMMAND [flags] [arguments]

`)
	cmds := commands()
	width := 0
	for name := range cmds {
		width = max(width, len(name))
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "%s:\n", g)
		for _, name := range commandOrder {
			if c := cmds[name]; c.group == g {
				fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString(`Every command takes --env-file FILE (default ./.env, or $POCKETSNAP_ENV_FILE),
--repo DIR (default ${BACKUP_DIR}/repo), --lock-wait DURATION (default 10m: how
long to wait for another process holding the repository) and --quiet. Flags
override the environment, which overrides the env file.

Exit codes:
  0  success
  1  error
  2  usage error (bad flag or argument)
  3  snapshot saved but incomplete (some files could not be read in full)
  4  repository locked by another process (or its daemon already running)
  5  age identity missing or not matching the repository
  6  verification failed (missing or corrupt data, forged manifest, a
     repository whose fingerprint is not the expected one)

Run 'pocketsnap COMMAND --help' for a command's flags and examples.
`)
	fmt.Fprint(u.stdout, b.String())
}
