//go:build unix

package tarcopy

import (
	"os"
	"syscall"
)

// openNoFollow opens a regular file the walk found, refusing one replaced by a symlink since.
func openNoFollow(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
