//go:build unix && !linux

package fsutil

import "os"

func openBeneath(root, rel string, flag int, perm os.FileMode) (*os.File, error) {
	return walkBeneath(root, rel, flag, perm)
}
