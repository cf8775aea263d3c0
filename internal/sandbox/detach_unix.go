//go:build unix

package sandbox

import "syscall"

// detached starts a background paddock in a session of its own: the terminal's signals and
// hang-up do not reach it.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// ownerOf is the owner of path.
func ownerOf(path string) (uid, gid int, err error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, 0, err
	}
	return int(st.Uid), int(st.Gid), nil
}
