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

// terminate ends the host side (Windows has no SIGTERM to send).
func terminate(p *os.Process) error { return p.Kill() }
