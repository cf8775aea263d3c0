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

// tryLock takes an exclusive lock on f at once, or fails.
func tryLock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }

// terminate asks the host side to end.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
