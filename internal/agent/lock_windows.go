//go:build windows

package agent

import (
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive lock on f (LockFileEx): at once or not at all, or waiting for it.
func lockFile(f *os.File, wait bool) error {
	flags := uint32(windows.LOCKFILE_EXCLUSIVE_LOCK)
	if !wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	return windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, new(windows.Overlapped))
}

// hardLinked: sizes count every file (Windows hard links are rare in npm trees).
func hardLinked(fs.FileInfo) (uint64, bool) { return 0, false }

func npmProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// killGroup ends npm and what it started.
func killGroup(pid int) error {
	return exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(pid)).Run()
}
