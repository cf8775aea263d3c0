//go:build windows

package agent

import (
	"io/fs"
	"os/exec"
	"strconv"
	"syscall"
)

// hardLinked: sizes count every file (Windows hard links are rare in npm trees).
func hardLinked(fs.FileInfo) (uint64, bool) { return 0, false }

func npmProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// killGroup ends npm and what it started.
func killGroup(pid int) error {
	return exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(pid)).Run()
}
