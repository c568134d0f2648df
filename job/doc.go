// Package job runs pocketsnap's operations — backup, rotate, push — over
// typed options, reporting through a Reporter and returning typed results.
//
// The command line and the daemon are two front ends over these calls:
// each builds the options from its configuration and flags, calls [Backup],
// [Rotate] or [Push], and renders what they report — the CLI as text or
// JSON lines, the daemon as structured log records. Neither holds the
// staging, retention or push logic, and neither reads the other's text.
//
// # Results and classes
//
// Every job returns a typed result and an error. [ClassOf] sorts an error
// into a [Class] (incomplete, locked, identity, verify, deferred, error):
// the CLI's exit code and the daemon's record and heartbeat both derive
// from it.
//
// # Staging
//
// A backup of a service's directory stops the service with its stop
// command, stages the directory beside it (package stage), starts the
// service again and reads the staged view; a rootfs backup reads in place,
// with the services stopped only for the read when asked. See [Service].
//
// The API is not stable before v1.
package job
