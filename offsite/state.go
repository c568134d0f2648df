package offsite

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// stateFile is where the device records its last push (device state,
// never uploaded).
var stateFile = chunkstore.Local("push.json")

// PushRecord is what the device remembers of its last push: when, to
// which bucket, and the newest snapshot of each kind the bucket then
// held. A bucket that later shows an older newest snapshot has lost
// snapshots (or had them deleted by whoever holds it).
type PushRecord struct {
	Bucket string            `json:"bucket"`
	Time   time.Time         `json:"time"`
	Newest map[string]string `json:"newest"`
	// SentBytes and SentObjects count what that push sent.
	SentBytes   int64 `json:"sent_bytes"`
	SentObjects int   `json:"sent_objects"`
}

// Newest returns the newest snapshot of each kind among the names.
func Newest(names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		kind, t, err := manifest.ParseName(n)
		if err != nil {
			continue
		}
		if cur, ok := out[kind]; ok {
			if _, ct, _ := manifest.ParseName(cur); !t.After(ct) {
				continue
			}
		}
		out[kind] = n
	}
	return out
}

// SnapshotNames returns the snapshot names in a listing.
func SnapshotNames(listing map[string]int64) []string {
	var out []string
	for name := range listing {
		if s, ok := strings.CutPrefix(name, manifest.Dir+"/"); ok && !chunkstore.IsTemp(s) {
			if _, _, err := manifest.ParseName(s); err == nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// SaveRecord stores the record of a push.
func SaveRecord(s *chunkstore.Store, r PushRecord) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return s.WriteFile(stateFile, append(b, '\n'))
}

// LoadRecord returns the record of the last push; ok is false when there
// was none.
func LoadRecord(s *chunkstore.Store) (r PushRecord, ok bool, err error) {
	b, err := os.ReadFile(s.Path(stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, fmt.Errorf("%s: %w", s.Path(stateFile), err)
	}
	return r, true, nil
}

// Rollbacks compares the bucket's newest snapshots with the record of the
// last push and describes each kind whose newest snapshot is older than
// the one the device pushed, or gone.
func (r PushRecord) Rollbacks(names []string) []string {
	now := Newest(names)
	var out []string
	for _, kind := range slices.Sorted(maps.Keys(r.Newest)) {
		pushed := r.Newest[kind]
		_, pt, _ := manifest.ParseName(pushed)
		cur, ok := now[kind]
		if !ok {
			out = append(out, fmt.Sprintf("the bucket holds no %s snapshot, but this device pushed %s on %s", kind, pushed, r.Time.Format(time.RFC3339)))
			continue
		}
		if _, ct, _ := manifest.ParseName(cur); ct.Before(pt) {
			out = append(out, fmt.Sprintf("the newest %s snapshot in the bucket is %s, but this device pushed %s on %s", kind, cur, pushed, r.Time.Format(time.RFC3339)))
		}
	}
	return out
}
