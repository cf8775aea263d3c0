package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Folders that a sandbox or an image controls (a config volume, a sandbox's home, an image's
// layers) are hostile ground: whatever paddock opens there it opens with the functions below,
// which resolve a path beneath its root without following a symbolic link in any component
// (openat2's RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS on Linux, a component-by-component O_NOFOLLOW
// walk elsewhere), open only regular files, never block (a FIFO is refused, not waited on) and
// read at most a stated size.

var (
	// ErrUnsafePath: a component of the path is a symbolic link or leaves the root.
	ErrUnsafePath = errors.New("a symbolic link in the path (paddock never follows links in folders a sandbox or an image can write)")
	// ErrNotRegular: the path names something other than a regular file (a folder, a FIFO, a device).
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file is larger than the caller reads.
	ErrTooLarge = errors.New("larger than paddock reads")
)

// cleanRel checks that rel is a relative path that stays beneath its root.
func cleanRel(rel string) (string, error) {
	if rel == "" || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%q: %w", rel, ErrUnsafePath)
	}
	c := filepath.Clean(rel)
	if c == ".." || strings.HasPrefix(c, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%q: %w", rel, ErrUnsafePath)
	}
	return c, nil
}

// OpenBeneath opens root/rel with flag and perm (as os.OpenFile) without following a symbolic
// link in any component of rel; root itself is trusted.
func OpenBeneath(root, rel string, flag int, perm os.FileMode) (*os.File, error) {
	c, err := cleanRel(rel)
	if err != nil {
		return nil, err
	}
	f, err := openBeneath(root, c, flag, perm)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(root, c), Err: err}
	}
	return f, nil
}

// ReadFileBeneath reads the regular file root/rel, at most max bytes, without following a link in
// any component and without blocking on a FIFO or a device.
func ReadFileBeneath(root, rel string, max int64) ([]byte, error) {
	f, err := OpenBeneath(root, rel, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: f.Name(), Err: ErrNotRegular}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, &fs.PathError{Op: "read", Path: f.Name(), Err: fmt.Errorf("%w (%d bytes)", ErrTooLarge, max)}
	}
	return b, nil
}

// LstatBeneath is os.Lstat of root/rel without following a link in any component but the last
// (which it describes, as Lstat does).
func LstatBeneath(root, rel string) (fs.FileInfo, error) {
	c, err := cleanRel(rel)
	if err != nil {
		return nil, err
	}
	dir, err := OpenBeneath(root, filepath.Dir(c), os.O_RDONLY|dirOnly, 0)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return lstatAt(dir, filepath.Base(c))
}

// ReplaceFileBeneath replaces root/rel with data (mode perm) atomically: a temporary file is made
// in rel's folder (opened beneath root) and renamed over rel. What was at rel, a symbolic link
// included, is replaced, never followed.
func ReplaceFileBeneath(root, rel string, data []byte, perm os.FileMode) error {
	return placeBeneath(root, rel, data, perm, false)
}

// CreateFileBeneath creates root/rel with data (mode perm) unless something is there already
// (fs.ErrExist), atomically: the file appears whole or not at all.
func CreateFileBeneath(root, rel string, data []byte, perm os.FileMode) error {
	return placeBeneath(root, rel, data, perm, true)
}

func placeBeneath(root, rel string, data []byte, perm os.FileMode, exclusive bool) error {
	c, err := cleanRel(rel)
	if err != nil {
		return err
	}
	dir, err := OpenBeneath(root, filepath.Dir(c), os.O_RDONLY|dirOnly, 0)
	if err != nil {
		return err
	}
	defer dir.Close()
	name := filepath.Base(c)
	tmp, f, err := createTempAt(dir, "."+name+".tmp-", perm)
	if err != nil {
		return &fs.PathError{Op: "create", Path: filepath.Join(root, c), Err: err}
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if exclusive {
			err = linkAt(dir, tmp, name) // fails with EEXIST, whatever is there
		} else {
			err = renameAt(dir, tmp, name)
		}
	}
	removeAt(dir, tmp)
	if err != nil {
		return &fs.PathError{Op: "write", Path: filepath.Join(root, c), Err: err}
	}
	return nil
}
