//go:build unix

package agent

import (
	"io/fs"
	"syscall"
)

// hardLinked returns the inode of a file with more than one link.
func hardLinked(info fs.FileInfo) (uint64, bool) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return uint64(st.Ino), true
	}
	return 0, false
}
