package restore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
// target.
func BrokenPath(target, stamp string) string { return target + BrokenSuffix + stamp }

// CleanStaging removes staging directories of target left by interrupted
// restores, and returns their names.
func CleanStaging(target string) ([]string, error) {
	stale, err := siblings(target, StagingSuffix)
	if err != nil {
		return nil, err
	}
	for _, d := range stale {
		if err := removeAll(d); err != nil {
			return nil, err
		}
	}
	return stale, nil
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

// Rollback swaps the newest directory moved aside by a restore back into
// target; the restored one is kept as target.undone-<stamp>. It returns
// the directory it brought back.
func Rollback(target string, now time.Time) (string, error) {
	broken, err := Newest(target)
	if err != nil {
		return "", err
	}
	if broken == "" {
		return "", fmt.Errorf("nothing to roll back: no %s%s<UTC> directory", target, BrokenSuffix)
	}
	if err := Swap(broken, target, target+UndoneSuffix+stamp(now)); err != nil {
		return "", err
	}
	return broken, nil
}

// Newest returns the newest directory a restore moved aside from target,
// or "" if there is none.
func Newest(target string) (string, error) {
	b, err := siblings(target, BrokenSuffix)
	if err != nil || len(b) == 0 {
		return "", err
	}
	return b[len(b)-1], nil
}
