package fsutil

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// openBeneath resolves with openat2 (Linux 5.6+): the kernel refuses any link in the path and
// any step out of the root, atomically; older kernels (or a seccomp filter that refuses
// openat2) get the component walk.
func openBeneath(root, rel string, flag int, perm os.FileMode) (*os.File, error) {
	dirfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dirfd)
	how := &unix.OpenHow{
		Flags:   uint64(flag) | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	if flag&os.O_CREATE != 0 {
		how.Mode = uint64(perm.Perm())
	}
	fd, err := unix.Openat2(dirfd, rel, how)
	switch {
	case err == nil:
		return os.NewFile(uintptr(fd), filepath.Join(root, rel)), nil
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM) && flag&os.O_CREATE == 0, errors.Is(err, unix.E2BIG),
		errors.Is(err, unix.ENOTDIR): // a link where a folder is asked for, or a file: the walk tells which
		return walkBeneath(root, rel, flag, perm)
	}
	return nil, linkErr(err)
}
