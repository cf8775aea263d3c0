//go:build unix

package fsutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	nonBlock = unix.O_NONBLOCK | unix.O_NOCTTY
	dirOnly  = unix.O_DIRECTORY
)

// walkBeneath opens rel (clean, relative) beneath root one component at a time, each with
// O_NOFOLLOW: a link anywhere fails with ELOOP (or ENOTDIR where the system says so).
func walkBeneath(root, rel string, flag int, perm os.FileMode) (*os.File, error) {
	dirfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(rel, string(filepath.Separator))
	if rel == "." {
		parts = nil
	}
	for i, p := range parts {
		if i == len(parts)-1 {
			break
		}
		next, err := unix.Openat(dirfd, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			err = linkAtErr(dirfd, p, err)
			unix.Close(dirfd)
			return nil, err
		}
		unix.Close(dirfd)
		dirfd = next
	}
	if len(parts) == 0 {
		return os.NewFile(uintptr(dirfd), root), nil
	}
	last := parts[len(parts)-1]
	fd, err := unix.Openat(dirfd, last, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		err = linkAtErr(dirfd, last, err)
		unix.Close(dirfd)
		return nil, err
	}
	unix.Close(dirfd)
	return os.NewFile(uintptr(fd), filepath.Join(root, rel)), nil
}

// linkErr names a refused link as such.
func linkErr(err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) {
		return ErrUnsafePath
	}
	return err
}

// linkAtErr is linkErr for the open of name in dirfd, which also says ENOTDIR for a link where a
// folder was asked for.
func linkAtErr(dirfd int, name string, err error) error {
	if errors.Is(err, unix.ENOTDIR) {
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return ErrUnsafePath
		}
	}
	return linkErr(err)
}

func lstatAt(dir *os.File, name string) (fs.FileInfo, error) {
	// Resolved from the folder's own descriptor; the last component is not followed.
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: filepath.Join(dir.Name(), name), Err: err}
	}
	return statInfo{name: name, st: st}, nil
}

// statInfo is an fs.FileInfo of a unix.Stat_t.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (s statInfo) Name() string       { return s.name }
func (s statInfo) Size() int64        { return int64(s.st.Size) }
func (s statInfo) ModTime() time.Time { return time.Unix(int64(s.st.Mtim.Sec), int64(s.st.Mtim.Nsec)) }
func (s statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s statInfo) Sys() any           { return &s.st }
func (s statInfo) Mode() fs.FileMode {
	m := fs.FileMode(s.st.Mode & 0o777)
	switch s.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if s.st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if s.st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if s.st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func createTempAt(dir *os.File, prefix string, perm os.FileMode) (string, *os.File, error) {
	for range 100 {
		var b [6]byte
		rand.Read(b[:])
		name := prefix + hex.EncodeToString(b[:])
		fd, err := unix.Openat(int(dir.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		f := os.NewFile(uintptr(fd), name)
		if err := f.Chmod(perm); err != nil { // not narrowed by the umask
			f.Close()
			unix.Unlinkat(int(dir.Fd()), name, 0)
			return "", nil, err
		}
		return name, f, nil
	}
	return "", nil, fs.ErrExist
}

func renameAt(dir *os.File, from, to string) error {
	return unix.Renameat(int(dir.Fd()), from, int(dir.Fd()), to)
}

func linkAt(dir *os.File, from, to string) error {
	return unix.Linkat(int(dir.Fd()), from, int(dir.Fd()), to, 0)
}

func removeAt(dir *os.File, name string) { unix.Unlinkat(int(dir.Fd()), name, 0) }
