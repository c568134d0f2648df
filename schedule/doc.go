// Package schedule decides when a scheduled job is due, from the daily
// wake hour, the job's cadence and the time of its last success.
//
// It is pure: it does arithmetic on UTC times and never reads a clock or a
// file. Package daemon asks it, at every wake, which jobs to run.
//
// # Wakes and periods
//
// The daemon wakes once a day at [Wakes.Hour]:00 UTC. A [Cadence] divides
// time into periods that start at a wake: every wake ([Daily]), the wake
// of each Monday ([Weekly], the first day of an ISO week) or the wake of
// the 1st of each month ([Monthly]). A job is due when its last success
// lies before the start of the period that contains the present moment
// ([Wakes.Due]). So a job that missed its wake (the phone was off or
// asleep) is due at the next wake, or at once when the daemon starts, and
// then not again until its next period: however many wakes were missed,
// it runs once. A job that failed stays due, and is retried at the next
// wake. A job that never succeeded is due.
//
// The API is not stable before v1.
package schedule
