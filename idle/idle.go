// Package idle puts the running process at the lowest CPU priority (nice
// 19) and in the idle I/O scheduling class, so that long backups never
// starve the services they back up.
//
// Linux keeps both priorities per thread, and a new thread inherits those
// of the thread that creates it. [Lower] therefore sets every thread
// listed in /proc/self/task, again until no new thread has appeared, and
// the threads the Go runtime starts later inherit the setting. Child
// processes inherit it too.
//
// The API is not stable before v1.
package idle

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Nice is the niceness Lower sets: the lowest CPU priority.
const Nice = 19

// The ioprio(2) encoding: a class in the top bits, a level below.
const (
	ioprioWhoProcess = 1 // IOPRIO_WHO_PROCESS: a thread ID
	ioprioClassShift = 13
	// ClassIdle is IOPRIO_CLASS_IDLE: I/O only when no one else needs the
	// disk.
	ClassIdle = 3
)

// Lower sets every thread of the process to nice 19 and the idle I/O
// class. It tries both on every thread whatever fails, and returns the
// failures (e.g. EPERM where a sandbox forbids ioprio_set), each naming
// the setting, joined.
func Lower() error {
	done := map[int]bool{}
	var cpuErr, ioErr error
	setIO, _ := IOClassAllowed()
	for {
		tids, err := threads(os.Getpid())
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			done[tid], fresh = true, fresh+1
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, Nice); err != nil && cpuErr == nil {
				cpuErr = fmt.Errorf("could not set CPU priority (nice %d): %w", Nice, err)
			}
			if !setIO {
				continue
			}
			if err := setIOClass(tid, ClassIdle); err != nil && ioErr == nil {
				ioErr = fmt.Errorf("could not set the idle I/O class: %w", err)
			}
		}
		if fresh == 0 {
			return errors.Join(cpuErr, ioErr)
		}
	}
}

// Describe says in one line what priority process pid really has, for
// status: the niceness and I/O class its threads share, or the range when
// they differ, and why the I/O class is not set where it cannot be.
func Describe(pid int) (string, error) {
	ts, err := Threads(pid)
	if err != nil {
		return "", err
	}
	if len(ts) == 0 {
		return "", fmt.Errorf("process %d has no threads left", pid)
	}
	nices, classes := map[int]bool{}, map[int]bool{}
	for _, t := range ts {
		nices[t.Nice], classes[t.IOClass] = true, true
	}
	s := fmt.Sprintf("nice %d", ts[0].Nice)
	if len(nices) > 1 {
		s = "mixed niceness across threads"
	}
	ok, why := IOClassAllowed()
	switch {
	case !ok:
		return s + ", I/O class not set: " + why, nil
	case len(classes) > 1:
		return s + ", mixed I/O classes across threads", nil
	case classes[ClassIdle]:
		return s + ", idle I/O class", nil
	case classes[0]:
		return s + ", I/O class not set (it follows the niceness)", nil
	}
	return fmt.Sprintf("%s, I/O class %d", s, ts[0].IOClass), nil
}

// Thread is the priority of one thread.
type Thread struct {
	TID  int
	Nice int
	// IOClass is the I/O scheduling class: 1 real time, 2 best effort,
	// [ClassIdle], or 0 when none was set (it then follows the niceness).
	IOClass int
}

// Threads reports the priorities of every thread of process pid, read
// from /proc and ioprio_get(2), to check what Lower did.
func Threads(pid int) ([]Thread, error) {
	tids, err := threads(pid)
	if err != nil {
		return nil, err
	}
	var out []Thread
	for _, tid := range tids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
		if os.IsNotExist(err) {
			continue // it ended
		}
		if err != nil {
			return nil, err
		}
		// The fields after the command name, which is in parentheses and
		// may hold anything: state is field 3, nice field 19.
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if i < 0 || len(f) < 17 {
			return nil, fmt.Errorf("unexpected /proc/%d/task/%d/stat", pid, tid)
		}
		nice, err := strconv.Atoi(f[16])
		if err != nil {
			return nil, fmt.Errorf("unexpected niceness in /proc/%d/task/%d/stat: %w", pid, tid, err)
		}
		class := 0
		if ok, _ := IOClassAllowed(); ok {
			if class, err = ioClass(tid); err != nil {
				return nil, fmt.Errorf("ioprio_get of thread %d: %w", tid, err)
			}
		}
		out = append(out, Thread{TID: tid, Nice: nice, IOClass: class})
	}
	return out, nil
}

func ioClass(tid int) (int, error) {
	v, _, errno := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(tid), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(v) >> ioprioClassShift, nil
}

func setIOClass(tid, class int) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), uintptr(class<<ioprioClassShift)); errno != 0 {
		return errno
	}
	return nil
}

// threads lists the thread IDs of process pid.
func threads(pid int) ([]int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, fmt.Errorf("failed to list the threads: %w", err)
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
