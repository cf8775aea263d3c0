//go:build unix && !linux

package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// RemoveTree deletes dir, refusing if any folder below it is on another filesystem.
func RemoveTree(dir string) error {
	var top syscall.Stat_t
	if err := syscall.Lstat(dir, &top); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				os.Chmod(p, 0o700) // a folder the sandbox made unreadable; it is ours
				return nil
			}
			return err
		}
		if d.IsDir() {
			var st syscall.Stat_t
			if err := syscall.Lstat(p, &st); err != nil {
				return err
			}
			if st.Dev != top.Dev {
				return fmt.Errorf("refusing to remove %s: %s is a mount point", dir, p)
			}
			if st.Mode&0o700 != 0o700 {
				os.Chmod(p, 0o700)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}
