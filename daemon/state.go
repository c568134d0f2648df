package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/fsync"
)

// Results of a job run.
const (
	ResultOK          = "ok"
	ResultFailed      = "failed"
	ResultInterrupted = "interrupted" // by a signal: it will run again
	ResultRunning     = "running"     // now, or its process was killed
	ResultStopped     = "stopped"     // cleanly, its conditions gone: it stays due
)

// State is the engine's record, stored as JSON in local/schedule.json.
type State struct {
	Jobs      map[string]*JobRecord `json:"jobs"`
	Heartbeat *HeartbeatRecord      `json:"heartbeat,omitempty"`
}

// JobRecord is how a job last went.
type JobRecord struct {
	// LastAttempt is when the last attempt started; absent when there
	// was none (issue 18.20).
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// Result is one of the Result constants.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	// Class is a failure's class, when the Runner told it (see
	// [ClassedError]): "incomplete", "locked", "identity", "verify" or
	// "error".
	Class string `json:"class,omitempty"`
	// DurationMS is how long the last attempt took, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// LastSuccess is when the newest successful run started.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// PID is the process running the job, while Result is ResultRunning.
	PID int `json:"pid,omitempty"`
	// Deferred is why the job, due, waits (e.g. "on mobile data"); empty
	// when it does not.
	Deferred string `json:"deferred,omitempty"`
	// DeferredSince is the start of the pass that first deferred it.
	DeferredSince time.Time `json:"deferred_since,omitzero"`
}

// HeartbeatRecord is the last heartbeat ping.
type HeartbeatRecord struct {
	Time time.Time `json:"time"`
	// Host is the ping URL's host: the rest of it is secret.
	Host string `json:"host"`
	// Reported is "success" or "failure".
	Reported string `json:"reported"`
	// Error is why the ping failed; empty when it got through.
	Error string `json:"error,omitempty"`
}

func (st *State) job(name string) *JobRecord {
	if st.Jobs == nil {
		st.Jobs = map[string]*JobRecord{}
	}
	r := st.Jobs[name]
	if r == nil {
		r = &JobRecord{}
		st.Jobs[name] = r
	}
	return r
}

// Store keeps the engine's files in a directory, the repository's
// local/: the state file schedule.json and the locks.
type Store struct {
	dir string
}

var _ Keeper = (*Store)(nil)

// NewStore returns the Store in dir, which is created when first needed.
func NewStore(dir string) *Store { return &Store{dir: dir} }

const stateFile = "schedule.json"

// Load reads the state; a missing file is an empty state.
func (s *Store) Load() (*State, error) {
	path := filepath.Join(s.dir, stateFile)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read the daemon state: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("invalid daemon state %s: %w", path, err)
	}
	return &st, nil
}

// Save replaces the state file atomically.
func (s *Store) Save(st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(s.dir, stateFile)
	if err := fsync.WriteFile(path, 0o600, append(b, '\n')); err != nil {
		return fmt.Errorf("failed to write the daemon state %s: %w", path, err)
	}
	return nil
}
