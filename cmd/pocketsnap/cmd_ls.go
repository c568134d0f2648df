package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
)

type lsOptions struct {
	long bool
}

func lsCommand() *command {
	var o lsOptions
	return &command{
		name: "ls", group: "Inspect and verify",
		summary: "list the files in a snapshot from its index, without reading data (needs the identity)",
		usage:   "ls SNAPSHOT [PATH...] [--long]",
		keys:    []string{"DATA_DIR", "BACKUP_DIR", "BACKUP_AGE_IDENTITY"},
		examples: []string{
			"BACKUP_AGE_IDENTITY=~/key.txt pocketsnap ls db-20261129T040000Z",
			"pocketsnap ls rootfs-20261129T040000Z etc/ssh --long   # entries at and below etc/ssh: type, mode, owner, size, mtime",
			"pocketsnap ls db-20261129 --json | jq -r '.entries[] | select(.size > 100000000) | .path'",
		},
		setup: func(fs *pflag.FlagSet) runner {
			fs.BoolVarP(&o.long, "long", "l", false, "show type and mode, owner, size and modification time (UTC), and link targets")
			return func(ctx context.Context, e *env, args []string) error { return runLs(ctx, e, o, args) }
		},
	}
}

// lsEntry is the --json form of a file index entry.
type lsEntry struct {
	Path string `json:"path"`
	Type string `json:"type"`
	// Mode holds the permission bits as a number (420 is 0644).
	Mode  uint32    `json:"mode"`
	Size  int64     `json:"size"`
	MTime time.Time `json:"mtime"`
	UID   int       `json:"uid"`
	GID   int       `json:"gid"`
	Link  string    `json:"link,omitempty"`
}

func runLs(ctx context.Context, e *env, o lsOptions, args []string) error {
	if len(args) == 0 {
		return usageErrorf("ls needs a SNAPSHOT (a name or a unique prefix), and optionally PATHs in it")
	}
	s, release, err := openIndexes(ctx, e)
	if err != nil {
		return err
	}
	defer release()
	m, _, err := openDetails(s, args[0])
	if err != nil {
		return err
	}
	files, err := m.Entries(args[1:]...)
	if err != nil {
		return err
	}
	entries := make([]lsEntry, len(files))
	for i, f := range files {
		entries[i] = lsEntry{f.Path, f.Type, f.Mode, f.Size, time.Unix(0, f.MTime).UTC(), f.UID, f.GID, f.Link}
	}
	printEntries(e, entries, o.long)
	// Issue 18.19: counted as backup and restore count them.
	n := map[string]int{}
	for _, f := range entries {
		n[f.Type]++
	}
	e.ui.infof("%d entries (%d files, %d dirs, %d symlinks, %d hardlinks)", len(entries), n["file"], n["dir"], n["symlink"], n["hardlink"])
	e.ui.summary(struct {
		Snapshot string    `json:"snapshot"`
		Count    int       `json:"count"`
		Files    int       `json:"files"`
		Entries  []lsEntry `json:"entries"`
	}{m.Name, len(entries), n["file"], entries})
	return nil
}

func printEntries(e *env, entries []lsEntry, long bool) {
	if !long {
		for _, f := range entries {
			fmt.Fprintln(e.ui.stdout, f.Path)
		}
		return
	}
	owner := func(f lsEntry) string { return fmt.Sprintf("%d/%d", f.UID, f.GID) }
	wOwner, wSize := 0, 0
	for _, f := range entries {
		wOwner = max(wOwner, len(owner(f)))
		wSize = max(wSize, len(strconv.FormatInt(f.Size, 10)))
	}
	for _, f := range entries {
		name := f.Path
		switch f.Type {
		case "symlink":
			name += " -> " + f.Link
		case "hardlink":
			name += " link to " + f.Link
		}
		fmt.Fprintf(e.ui.stdout, "%s  %-*s  %*d  %s  %s\n", modeString(f.Type, f.Mode), wOwner, owner(f), wSize, f.Size, f.MTime.Format("2006-01-02 15:04:05"), name)
	}
}

// openIndexes opens the repository to read snapshots' file indexes, which
// are encrypted like the data: it needs the identity.
func openIndexes(ctx context.Context, e *env) (*chunkstore.Store, func(), error) {
	s, release, err := openForReading(ctx, e, "")
	if errors.Is(err, chunkstore.ErrNoIdentity) {
		err = fmt.Errorf("file names, sizes and times are encrypted in the repository: %w", err)
	}
	return s, release, err
}

// openDetails loads a snapshot's manifest and opens its private part,
// which holds the file index.
func openDetails(s *chunkstore.Store, ref string) (*manifest.Manifest, *manifest.Details, error) {
	name, err := manifest.Resolve(s, ref)
	if err != nil {
		return nil, nil, err
	}
	m, err := manifest.Load(s, name)
	if err != nil {
		return nil, nil, err
	}
	d, err := m.Open(s.Codec())
	if err != nil {
		return nil, nil, fmt.Errorf("file index of snapshot %s: %w", name, err)
	}
	return m, d, nil
}

// modeString formats an entry's type and permission bits as ls -l does,
// with h for a hardlink.
func modeString(typ string, mode uint32) string {
	c := map[string]byte{"dir": 'd', "symlink": 'l', "hardlink": 'h', "fifo": 'p', "char": 'c', "block": 'b'}[typ]
	if c == 0 {
		c = '-'
	}
	b := []byte{c}
	for i := 8; i >= 0; i-- {
		if mode&(1<<i) != 0 {
			b = append(b, "rwx"[(8-i)%3])
		} else {
			b = append(b, '-')
		}
	}
	for _, sp := range []struct {
		bit      uint32
		at       int
		set, off byte
	}{{0o4000, 3, 's', 'S'}, {0o2000, 6, 's', 'S'}, {0o1000, 9, 't', 'T'}} {
		if mode&sp.bit != 0 {
			if b[sp.at] == 'x' {
				b[sp.at] = sp.set
			} else {
				b[sp.at] = sp.off
			}
		}
	}
	return string(b)
}
