package main

import (
	"fmt"
	"strings"
)

// usage prints "pocketsnap --help": the commands grouped by task, the
// flags every command takes, and the exit codes.
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
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "%s:\n", g)
		for _, c := range cmds {
			if c.group == g {
				fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString(`Every command takes --env-file FILE (default ./.env, or $POCKETSNAP_ENV_FILE),
--repo DIR (default ${BACKUP_DIR}/repo), --lock-wait DURATION (default 10m: how
long to wait for another process holding the repository), --quiet, and --json
(JSON lines on stdout, for scripts: see the README's "Scripting"). Flags
override the environment, which overrides the env file.

Exit codes:
`)
	for _, c := range exitCodes {
		fmt.Fprintf(&b, "  %d  %s\n", c.code, c.meaning)
	}
	b.WriteString(`
Run 'pocketsnap COMMAND --help' for a command's flags and examples.
`)
	fmt.Fprint(u.stdout, b.String())
}
