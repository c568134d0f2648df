// Package conditions tells whether the phone may do heavy or metered work
// now: whether it is on Wi-Fi (for the offsite push) and whether it has
// power to spare (for the rootfs backup and the push).
//
// # Detectors
//
// On Android, through Termux, the Termux:API commands answer:
// termux-wifi-connectioninfo (Wi-Fi is up when its supplicant_state is
// COMPLETED and it has an ip), termux-telephony-deviceinfo (mobile data
// is up when data_state is "connected") and termux-battery-status. When
// the Termux:API app is missing they hang for ever, so every command runs
// with a timeout that kills its whole process group. On plain Linux,
// NetworkManager's metered property (nmcli) and /sys/class/power_supply
// answer. A user's command (OFFSITE_WHEN_CMD, exit 0 = go) overrides the
// network detection.
//
// # Verdicts
//
// A [Verdict] says whether the work may run and why, in words fit for a
// log or `status` ("on mobile data", "battery 18%, not charging"). For the
// network, anything not known to be allowed is not: an unknown state, a
// malformed answer or a command that timed out defers the push. For
// power, a machine with no battery, or none of the detectors, is allowed
// and the verdict says so; a detector that is present but fails defers.
//
// The API is not stable before v1.
package conditions
