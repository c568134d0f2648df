package prune

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// retentionMark is the device file that records when retention last ran
// in full: by rotate, after a backup, or as the daemon's job (issue
// 18.20: status reads it).
const retentionMark = "local/last-retention"

// markRetention records a retention run that started at start.
func markRetention(s *chunkstore.Store, start time.Time) error {
	if err := s.WriteFile(retentionMark, []byte(start.UTC().Format(time.RFC3339Nano)+"\n")); err != nil {
		return fmt.Errorf("failed to record the retention run: %w", err)
	}
	return nil
}

// LastRun returns when [Local] last ran in full (not a dry run); zero if
// never.
func LastRun(s *chunkstore.Store) (time.Time, error) {
	b, err := os.ReadFile(s.Path(retentionMark))
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid %s: %w", s.Path(retentionMark), err)
	}
	return t, nil
}
