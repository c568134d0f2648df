//go:build 386 || arm || mips || mipsle

package idle

// is32bit: this build's system calls go through Android's 32-bit seccomp
// filter, which lacks ioprio_set and ioprio_get.
const is32bit = true
