package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/fsync"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// Name suffixes of the directories a restore leaves beside its target.
const (
	// StagingSuffix marks a directory being restored into; one left behind
	// by a crash is removed by the next restore.
	StagingSuffix = ".restoring-"
	// BrokenSuffix marks the live directory a restore moved aside: a
	// one-rename rollback.
	BrokenSuffix = ".broken-"
	// UndoneSuffix marks a restored directory that a rollback moved aside.
	UndoneSuffix = ".undone-"
)

func stamp(t time.Time) string { return t.UTC().Format(manifest.StampLayout) }

// StagingPath returns the staging directory of target for a restore
// started at stamp.
func StagingPath(target, stamp string) string { return target + StagingSuffix + stamp }

// BrokenPath returns where a restore started at stamp moves the live
// target whose aside base (see [AsideBase]) is aside.
func BrokenPath(aside, stamp string) string { return aside + BrokenSuffix + stamp }

// UndonePath returns where a rollback at stamp moves the restored tree
// of the target whose aside base is aside.
func UndonePath(aside, stamp string) string { return aside + UndoneSuffix + stamp }

// AsideBase returns the base name of the directories that a restore of
// kind into target moves aside (base+".broken-<UTC>"): beside the target,
// unless the target lies inside rootfs, whose next backup must not read
// them: then beside rootfs, as rootfs.<kind>, on the same filesystem so
// that moving aside stays one rename.
func AsideBase(target, kind, rootfs string) string {
	if _, ok := inside(rootfs, target); ok {
		return rootfs + "." + kind
	}
	return target
}

// siblings lists target's siblings named target+suffix+stamp, oldest first.
func siblings(target, suffix string) ([]string, error) {
	matches, err := filepath.Glob(globEscape(target+suffix) + "*")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		if _, err := time.Parse(manifest.StampLayout, strings.TrimPrefix(m, target+suffix)); err == nil {
			out = append(out, m)
		}
	}
	slices.Sort(out) // stamps sort by time
	return out, nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}

// Swap moves the live target (if there is one) aside to broken and the
// verified staging directory into its place. Both renames stay on one
// filesystem; if the second fails, the first is undone.
func Swap(staging, target, broken string) error {
	moved := false
	if _, err := os.Lstat(target); err == nil {
		if err := os.Rename(target, broken); err != nil {
			return fmt.Errorf("failed to move %s aside: %w", target, err)
		}
		moved = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to inspect %s: %w", target, err)
	}
	if err := os.Rename(staging, target); err != nil {
		if moved {
			if uerr := os.Rename(broken, target); uerr != nil {
				return fmt.Errorf("failed to move the restored tree into %s: %w; and failed to move the live one back from %s: %v", target, err, broken, uerr)
			}
		}
		return fmt.Errorf("failed to move the restored tree into %s: %w", target, err)
	}
	return fsync.Dir(filepath.Dir(target))
}

// Rollback swaps the newest directory moved aside by a restore of target
// (named after aside, see [AsideBase]) back into target; the restored one
// is kept as aside.undone-<stamp>. It returns the directory it brought
// back and where the restored one went.
func Rollback(target, aside string, now time.Time) (back, undone string, err error) {
	broken, err := newest(aside)
	if err != nil {
		return "", "", err
	}
	if broken == "" {
		return "", "", fmt.Errorf("nothing to roll back: no %s%s<UTC> directory", aside, BrokenSuffix)
	}
	undone = UndonePath(aside, stamp(now))
	if err := Swap(broken, target, undone); err != nil {
		return "", "", err
	}
	return broken, undone, nil
}

// newest returns the newest directory a restore moved aside as
// aside.broken-<UTC>, or "" if there is none.
func newest(aside string) (string, error) {
	b, err := siblings(aside, BrokenSuffix)
	if err != nil || len(b) == 0 {
		return "", err
	}
	return b[len(b)-1], nil
}

// AsideDir is a directory that a restore or a rollback moved aside.
type AsideDir struct {
	Path string
	// Size is the bytes its files take on disk.
	Size int64
}

// Asides lists the directories moved aside as base.broken-<UTC> or
// base.undone-<UTC>, for each base, oldest first.
func Asides(bases ...string) ([]AsideDir, error) {
	var out []AsideDir
	for _, b := range bases {
		for _, suffix := range []string{BrokenSuffix, UndoneSuffix} {
			dirs, err := siblings(b, suffix)
			if err != nil {
				return nil, err
			}
			for _, d := range dirs {
				n, err := diskUsage(d)
				if err != nil {
					return nil, err
				}
				out = append(out, AsideDir{Path: d, Size: n})
			}
		}
	}
	return out, nil
}

// diskUsage returns the bytes the files below dir take on disk, each
// inode counted once.
func diskUsage(dir string) (int64, error) {
	var n int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || seen[st.Ino] {
			return nil
		}
		seen[st.Ino] = true
		n += st.Blocks * 512
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("failed to measure %s: %w", dir, err)
	}
	return n, nil
}
