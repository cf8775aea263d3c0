//go:build unix

package egresshost

import (
	"os"
	"syscall"
)

// detached: its own process group, out of reach of the terminal's Ctrl-C, in the caller's
// session (a session of its own would be a scheduling group of its own under autogroup
// scheduling, see the native backend's supervisor); SIGHUP is ignored.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// terminate asks the host side to end.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
