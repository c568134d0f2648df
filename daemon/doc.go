// Package daemon runs a repository's scheduled jobs when they are due and
// keeps the record of how they went.
//
// An [Engine] holds an ordered list of [Job]s (the db backup, the rootfs
// backup, retention, the offsite push), a [Runner] that runs them, a
// [Clock] and an optional [Heartbeat]. [Engine.RunDue] is one pass: it
// asks package schedule which jobs are due now, from the time of each
// one's last success, runs those in order and records each outcome.
// [Engine.Run] is the daemon: a pass at once (to catch up on what a phone
// that was off or asleep missed), then one at every wake. A [Service]
// runs the engine as the front end's [Settings] say and follows them as
// they are re-read (SIGHUP): it stops the schedule when they turn the
// daemon off and starts it when they turn it on.
//
// # Conditions
//
// A [Gate] may hold a due job (the push on mobile data, the rootfs backup
// on a low battery): the job is recorded as deferred, with why and since
// when, stays due, and runs at the first wake, or re-check (every
// Config.Recheck while a job is deferred), at which the Gate lets it.
// Once a job has been deferred for Config.DeferAlert, every wake reports
// a failure to the heartbeat and no success, until the job runs.
//
// # Records
//
// A backup's last success is the newest complete snapshot of its kind in
// the repository (the Runner's LastSuccess), so a snapshot taken by hand
// counts and one deleted by hand does not. For the other jobs, and for
// what the repository cannot tell (the last attempt, its result and
// error, the heartbeat), the engine keeps a small state file in the
// repository's local/ directory ([Store]), replaced atomically after every
// change.
//
// # Locks
//
// One daemon runs per repository (local/daemon.lock, held for its life).
// A pass holds local/schedule.lock, so that a `run-due` started while the
// daemon's pass runs waits for it and then finds the work done, rather
// than doing it twice. Both are flock(2) locks: the kernel drops them when
// their holder dies.
//
// The API is not stable before v1.
package daemon
