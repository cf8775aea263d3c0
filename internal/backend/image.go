package backend

import (
	"os"
	"path/filepath"
	"strings"
)

// Has reports whether the template's file system has a file at p (an absolute path
// inside), looking at its layers from the top: a whiteout there means it was deleted. Symlinked
// folders are followed only within one layer.
func (img *Image) Has(p string) bool {
	if img == nil {
		return false
	}
	rel := strings.TrimPrefix(filepath.Clean("/"+p), "/")
	for i := len(img.LayerDirs) - 1; i >= 0; i-- {
		st, err := os.Lstat(filepath.Join(img.LayerDirs[i], rel))
		if err != nil {
			continue
		}
		if st.Mode()&os.ModeCharDevice != 0 {
			return false // a whiteout
		}
		if st.Mode()&os.ModeSymlink != 0 {
			st, err = os.Stat(filepath.Join(img.LayerDirs[i], rel))
			if err != nil {
				// An absolute symlink resolves inside the sandbox: count it.
				return true
			}
		}
		return !st.IsDir()
	}
	return false
}
