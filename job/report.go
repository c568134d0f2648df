package job

import (
	"context"
	"errors"
	"fmt"
	"time"

	"filippo.io/age"
	"github.com/dustin/go-humanize"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/extract"
	"github.com/pocketsnap/pocketsnap/internal/flock"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
)

// Level is the kind of a message a job reports.
type Level int

// Message levels. The CLI prints a Result on stdout and the others on
// stderr; the daemon logs Warning and Error at their slog levels and the
// others as information.
const (
	// Info says what a job is doing; --quiet hides it.
	Info Level = iota
	// Result is a line of a job's result for people.
	Result
	// Warning is something a job could not do, or did with a caveat.
	Warning
	// Hint is advice on how to recover from what was just reported.
	Hint
	// Error is a failure reported while the job carries on (its own
	// error is returned).
	Error
)

// Reporter receives what a job says while it runs.
type Reporter interface {
	// Report says one message, a sentence for people.
	Report(level Level, msg string)
	// Progress shows the progress of the operation label, which counts
	// unit (entries, objects) and bytes in p, out of total bytes when
	// total is positive, until the returned stop is called.
	Progress(label, unit string, total int64, p *pipeline.Progress) (stop func())
}

// reportf formats and reports one message.
func reportf(r Reporter, level Level, format string, a ...any) {
	r.Report(level, fmt.Sprintf(format, a...))
}

// Class sorts a job's outcome: the CLI's exit code and the daemon's
// record and heartbeat derive from it.
type Class string

// Classes of outcome.
const (
	// OK is success.
	OK Class = "ok"
	// Failed is any failure not classed below.
	Failed Class = "error"
	// Incomplete is a snapshot saved with entries not read in full.
	Incomplete Class = "incomplete"
	// Locked is a repository, or a push, that another process holds.
	Locked Class = "locked"
	// Identity is an age identity missing or not matching.
	Identity Class = "identity"
	// Verify is missing or corrupt data, a forged manifest or config, or
	// a repository whose fingerprint is not the expected one.
	Verify Class = "verify"
	// Deferred is a job whose conditions kept it from starting or
	// stopped it cleanly: it stays due.
	Deferred Class = "deferred"
)

// ErrIncomplete reports a snapshot saved with entries that could not be
// read in full; the warnings have been reported already.
var ErrIncomplete = errors.New("snapshot is incomplete")

// DeferredError is a job's conditions keeping it from starting, or
// stopping it cleanly: nothing is lost, and the next run continues.
type DeferredError struct {
	// Reason is why, e.g. "on mobile data".
	Reason string
}

func (e *DeferredError) Error() string { return "deferred: " + e.Reason }

// ClassOf returns the class of a job's error; OK for nil.
func ClassOf(err error) Class {
	var le *chunkstore.LockedError
	var he *flock.HeldError
	var nm *age.NoIdentityMatchError
	var fe *chunkstore.FingerprintError
	var de *DeferredError
	switch {
	case err == nil:
		return OK
	case errors.As(err, &de):
		return Deferred
	case errors.Is(err, ErrIncomplete):
		return Incomplete
	case errors.As(err, &le), errors.As(err, &he):
		return Locked
	case errors.Is(err, chunkstore.ErrNoIdentity), errors.Is(err, chunkstore.ErrWrongIdentity),
		errors.Is(err, compat.ErrNeedIdentity), errors.As(err, &nm):
		return Identity
	case errors.Is(err, chunkstore.ErrCorrupt), errors.Is(err, chunkstore.ErrMissing),
		errors.Is(err, manifest.ErrInvalid), errors.Is(err, pipeline.ErrVerify),
		errors.Is(err, extract.ErrUnsafePath), errors.Is(err, compat.ErrVerify), errors.As(err, &fe):
		return Verify
	}
	return Failed
}

// lock takes s's exclusive lock, waiting up to wait for a process that
// holds it and saying once whom it waits for.
func lock(ctx context.Context, s *chunkstore.Store, wait time.Duration, r Reporter) (*chunkstore.Lock, error) {
	return s.LockWait(ctx, true, wait, func(le *chunkstore.LockedError) {
		reportf(r, Info, "waiting up to %s: %v", wait, le)
	})
}

// size formats a byte count with a binary unit: 512 B, 1.5 KiB, 15 MiB.
func size(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }
