package fsutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const (
	nonBlock = 0
	dirOnly  = 0
)

// openBeneath on Windows: os.Root keeps the path beneath root, and every component is checked
// not to be a link (reparse point) before the open.
func openBeneath(root, rel string, flag int, perm os.FileMode) (*os.File, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	p := ""
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == "." {
			continue
		}
		p = filepath.Join(p, part)
		st, err := r.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, err
		}
		if st.Mode()&os.ModeSymlink != 0 || st.Mode()&os.ModeIrregular != 0 {
			return nil, ErrUnsafePath
		}
	}
	return r.OpenFile(rel, flag, perm)
}

func lstatAt(dir *os.File, name string) (fs.FileInfo, error) {
	return os.Lstat(filepath.Join(dir.Name(), name))
}

func createTempAt(dir *os.File, prefix string, perm os.FileMode) (string, *os.File, error) {
	for range 100 {
		var b [6]byte
		rand.Read(b[:])
		name := prefix + hex.EncodeToString(b[:])
		f, err := os.OpenFile(filepath.Join(dir.Name(), name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return name, f, err
	}
	return "", nil, fs.ErrExist
}

func renameAt(dir *os.File, from, to string) error {
	return os.Rename(filepath.Join(dir.Name(), from), filepath.Join(dir.Name(), to))
}

func linkAt(dir *os.File, from, to string) error {
	return os.Link(filepath.Join(dir.Name(), from), filepath.Join(dir.Name(), to))
}

func removeAt(dir *os.File, name string) { os.Remove(filepath.Join(dir.Name(), name)) }
