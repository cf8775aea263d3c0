//go:build unix

package egress

import (
	"os"
	"syscall"
)

// fileID is a file's inode: policy files are replaced by rename, and a new inode tells a change
// that mtime's granularity could hide.
func fileID(st os.FileInfo) uint64 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(sys.Ino)
	}
	return 0
}
