package main

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/compat"
	"github.com/pocketsnap/pocketsnap/daemon"
	"github.com/pocketsnap/pocketsnap/job"
)

// Exit codes; exitCodes describes them for "pocketsnap --help", and the
// README's table must say the same (a test checks it, and that some test
// case produces each).
const (
	exitOK         = 0
	exitError      = 1
	exitUsage      = 2
	exitIncomplete = 3
	exitLocked     = 4
	exitIdentity   = 5
	exitVerify     = 6
)

// exitCodes are the exit codes and their meanings, in order.
var exitCodes = []struct {
	code    int
	meaning string
}{
	{exitOK, "success"},
	{exitError, "error"},
	{exitUsage, "usage error (bad flag or argument)"},
	{exitIncomplete, "snapshot saved but incomplete (some files could not be read in full)"},
	{exitLocked, "repository locked by another process (or its daemon, or another push, already running)"},
	{exitIdentity, "age identity missing or not matching the repository"},
	{exitVerify, "verification failed (missing or corrupt data, forged manifest or config, a repository whose fingerprint is not the expected one)"},
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// hintError is an error with advice on how to fix it.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// exitCode maps an error to the exit code: usage errors and check's
// findings here, the rest by its class (see job.ClassOf).
func exitCode(err error) int {
	var ue *usageError
	var re *daemon.RunningError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &re):
		return exitLocked
	case errors.Is(err, errCheckFailed):
		return exitVerify
	}
	return classExit[job.ClassOf(err)]
}

// classExit is the exit code of each class of a job's outcome.
var classExit = map[job.Class]int{
	job.OK: exitOK, job.Failed: exitError, job.Incomplete: exitIncomplete, job.Locked: exitLocked,
	job.Identity: exitIdentity, job.Verify: exitVerify, job.Deferred: exitError,
}

func hint(err error) string {
	var ue *usageError
	var le *chunkstore.LockedError
	var he *hintError
	var fe *chunkstore.FingerprintError
	var ie *chunkstore.IndexError
	var ke interface{ Hint() string } // a library's error that knows its fix
	switch {
	case errors.As(err, &he):
		return he.hint
	case errors.As(err, &ke):
		return ke.Hint()
	case errors.As(err, &fe):
		return "these are not the secrets of the repository you created (its fingerprint, printed by 'pocketsnap init', is kept beside the identity): do not trust this repository until you know who replaced them"
	case errors.As(err, &ue):
		return "run 'pocketsnap --help' or 'pocketsnap COMMAND --help'"
	case errors.As(err, &le):
		return "wait for that process to finish; a killed process releases the lock by itself"
	case errors.As(err, &ie):
		return "bring the identity to the device for this once: BACKUP_AGE_IDENTITY=FILE pocketsnap repair index"
	case errors.Is(err, chunkstore.ErrNoIdentity), errors.Is(err, compat.ErrNeedIdentity):
		return "set BACKUP_AGE_IDENTITY to the path of the age identity file (keep it off the phone; bring it only to restore)"
	case errors.Is(err, chunkstore.ErrWrongIdentity):
		return "BACKUP_AGE_IDENTITY must be the identity matching a recipient in the repository's config"
	case errors.Is(err, syscall.ENOSPC):
		return "the disk is full: free some space and run the command again (a failed backup removes what it wrote); 'pocketsnap rotate --dry-run' shows what retention would free"
	case errors.Is(err, chunkstore.ErrNotExist):
		return "create one with 'pocketsnap init', or point --repo / BACKUP_DIR at an existing one"
	}
	return ""
}
