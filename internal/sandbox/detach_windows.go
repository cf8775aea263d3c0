package sandbox

import "syscall"

// detached starts a background paddock in a process group of its own (Ctrl-C does not reach it).
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}
