//go:build unix

package fds

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// fdDir lists the calling process's descriptors.
func fdDir() string {
	if runtime.GOOS == "linux" {
		return "/proc/self/fd"
	}
	return "/dev/fd"
}

// open lists the descriptors from `from` up.
func open(from int) ([]int, error) {
	d, err := os.Open(fdDir())
	if err != nil {
		return nil, fmt.Errorf("listing open descriptors: %w", err)
	}
	names, err := d.Readdirnames(-1)
	self := int(d.Fd())
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("listing open descriptors: %w", err)
	}
	var out []int
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd < from || fd == self {
			continue
		}
		out = append(out, fd)
	}
	return out, nil
}

func sealByList(from int) error {
	list, err := open(from)
	if err != nil {
		return err
	}
	for _, fd := range list {
		// EBADF: the listing's own descriptor, or one closed meanwhile.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return fmt.Errorf("marking descriptor %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}

func inheritable(from int) ([]int, error) {
	list, err := open(from)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, fd := range list {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == nil && flags&unix.FD_CLOEXEC == 0 {
			out = append(out, fd)
		}
	}
	return out, nil
}
