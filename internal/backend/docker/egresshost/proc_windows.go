//go:build windows

package egresshost

import (
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// detached: a process group and no console of its own, so that the terminal's Ctrl-C stays
// with the CLI.
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS}
}

// tryLock takes an exclusive lock on f at once, or fails.
func tryLock(f *os.File) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, new(windows.Overlapped))
}

// terminate ends the host side (Windows has no SIGTERM to send).
func terminate(p *os.Process) error { return p.Kill() }
