//go:build unix

package sandbox

import "syscall"

// detached starts a background paddock in a session of its own: the terminal's signals and
// hang-up do not reach it.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
