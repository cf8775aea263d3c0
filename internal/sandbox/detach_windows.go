package sandbox

import "syscall"

// detached starts a background paddock in a process group of its own (Ctrl-C does not reach it).
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// ownerOf is not known here.
func ownerOf(path string) (uid, gid int, err error) { return 0, 0, nil }
