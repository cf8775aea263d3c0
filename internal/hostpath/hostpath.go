// Package hostpath opens host paths that a sandbox may have changed since the user named them:
// the workspace, -v sources, a worktree's git folder, files read from the workspace. Nothing in
// it follows a symlink, blocks on a FIFO or device, or reads without bound.
package hostpath

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Error categories, checked with errors.Is.
var (
	// ErrChanged: the path no longer leads to the file or folder that was recorded.
	ErrChanged = errors.New("no longer the folder it was")
	// ErrSymlink: a component of the path is a symlink.
	ErrSymlink = errors.New("a symlink on the way")
	// ErrNotRegular: a file expected to be a regular file is not (a FIFO, a device, a folder).
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: a file is larger than its reader accepts.
	ErrTooLarge = errors.New("too large")
)

// ID identifies a file or folder on the host: its device and inode, and its birth time where the
// filesystem keeps one (an inode number freed by a removal is soon given to a new folder).
type ID struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Birth int64  `json:"birth,omitempty"` // nanoseconds since 1970 (0: unknown)
}

// Matches reports whether have is the file recorded as id (a birth time unknown to either side
// is not compared).
func (id ID) Matches(have ID) bool {
	if id.Dev != have.Dev || id.Ino != have.Ino {
		return false
	}
	return id.Birth == 0 || have.Birth == 0 || id.Birth == have.Birth
}

// Zero reports whether the ID was never recorded.
func (id ID) Zero() bool { return id == ID{} }

// Identify opens path without following symlinks and returns its identity.
func Identify(path string) (ID, error) {
	f, err := Open(path)
	if err != nil {
		return ID{}, err
	}
	defer f.Close()
	return idOf(f)
}

// OpenSame opens path without following symlinks (an O_PATH descriptor on Linux) and checks
// that it is still the file or folder recorded as want; a zero want accepts any.
func OpenSame(path string, want ID) (*os.File, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	if want.Zero() {
		return f, nil
	}
	have, err := idOf(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if !want.Matches(have) {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrChanged)
	}
	return f, nil
}

// ReadSmall reads a regular file of at most max bytes, without following a symlink at its last
// component and without blocking (a FIFO or device there is refused, never opened for reading).
func ReadSmall(path string, max int64) ([]byte, error) {
	f, err := openFileNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w (over %d bytes)", path, ErrTooLarge, max)
	}
	return b, nil
}
