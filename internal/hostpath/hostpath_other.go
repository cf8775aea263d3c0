//go:build !linux

package hostpath

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Open opens path after checking that none of its components is a symlink (racy: Linux is the
// only platform paddock runs sandboxes on).
func Open(path string) (*os.File, error) {
	p := string(filepath.Separator)
	for _, c := range strings.Split(filepath.Clean(path), string(filepath.Separator)) {
		if c == "" {
			continue
		}
		p = filepath.Join(p, c)
		if st, err := os.Lstat(p); err != nil {
			return nil, err
		} else if st.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s: %w", path, ErrSymlink)
		}
	}
	return os.Open(path)
}

func idOf(f *os.File) (ID, error) {
	if _, err := f.Stat(); err != nil {
		return ID{}, err
	}
	return ID{}, nil
}

func openFileNoFollow(path string) (*os.File, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	return os.Open(path)
}

// Owner is the uid owning path: unknown (-1) outside Linux.
func Owner(path string) int64 { return -1 }
