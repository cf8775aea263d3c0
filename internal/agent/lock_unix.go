//go:build unix

package agent

import (
	"io/fs"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on f: at once or not at all, or waiting for it.
func lockFile(f *os.File, wait bool) error {
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// hardLinked returns the inode of a file with more than one link.
func hardLinked(info fs.FileInfo) (uint64, bool) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return uint64(st.Ino), true
	}
	return 0, false
}
