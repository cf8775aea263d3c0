package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// killTimeout bounds how long Kill and Remove wait for processes to go.
const killTimeout = 10 * time.Second

// killLoop SIGKILLs every process in dirs and their subgroups, again and
// again, until none is left. It never signals the calling process: if that
// is in the group, the others are killed and an error says so.
func killLoop(dirs []string) error {
	self := os.Getpid()
	deadline := time.Now().Add(killTimeout)
	pause := time.Millisecond
	for {
		pids, err := treeProcs(dirs)
		if err != nil {
			return err
		}
		selfIn := slices.Contains(pids, self)
		pids = slices.DeleteFunc(pids, func(p int) bool { return p == self })
		if len(pids) == 0 {
			if selfIn {
				return fmt.Errorf("cgroups: this process (pid %d) is in the group and was not killed", self)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroups: %d processes still in the group after %s: %v", len(pids), killTimeout, pids)
		}
		if err := killPids(dirs, pids); err != nil {
			return err
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// killPids sends SIGKILL to pids. To avoid hitting an unrelated process that
// reused a pid, it pins each process with a pidfd, then checks it is still in
// the group before signalling; without pidfds (old kernels) it uses kill(2).
func killPids(dirs []string, pids []int) error {
	fds := map[int]int{}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		switch {
		case err == nil:
			fds[pid] = fd
		case errors.Is(err, unix.ENOSYS):
			return killPlain(pids)
		case !errors.Is(err, unix.ESRCH):
			return fmt.Errorf("cgroups: pidfd_open %d: %w", pid, err)
		}
	}
	still, err := treeProcs(dirs)
	if err != nil {
		return err
	}
	for pid, fd := range fds {
		if !slices.Contains(still, pid) {
			continue
		}
		if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("cgroups: kill %d: %w", pid, err)
		}
	}
	return nil
}

// killPlain sends SIGKILL to pids with kill(2).
func killPlain(pids []int) error {
	for _, pid := range pids {
		if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("cgroups: kill %d: %w", pid, err)
		}
	}
	return nil
}

// rmdirRetry removes the empty group dir, retrying while the kernel still
// reports it busy (processes that were just killed may take a moment to go).
func rmdirRetry(dir string) error {
	deadline := time.Now().Add(killTimeout)
	for {
		err := unix.Rmdir(dir)
		switch {
		case err == nil || errors.Is(err, unix.ENOENT):
			return nil
		case !errors.Is(err, unix.EBUSY) || time.Now().After(deadline):
			return &fs.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(10 * time.Millisecond)
	}
}
