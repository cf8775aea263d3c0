package agent

import "syscall"

// npmProcAttr puts npm in its own process group (so its scripts can be ended together) and
// ends it when paddock dies.
func npmProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
