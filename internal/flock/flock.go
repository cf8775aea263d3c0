// Package flock is paddock's one file lock: an exclusive or shared lock on a lock file, held
// until released or until the process dies (the kernel drops it), so that a killed paddock never
// leaves a lock behind.
package flock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Options say how to take a lock.
type Options struct {
	// Shared takes a shared lock (readers) instead of an exclusive one.
	Shared bool
	// Waiting, when set, is called once if another process holds the lock, before waiting.
	Waiting func()
	// Perm is the lock file's mode when it is created (default 0600).
	Perm fs.FileMode
}

// Acquire takes the lock on path, creating the file if needed, waiting for it; it returns the
// release function and whether it had to wait. A lock file made by another user is locked
// through a read-only descriptor.
func Acquire(path string, o Options) (release func(), waited bool, err error) {
	perm := o.Perm
	if perm == 0 {
		perm = 0o600
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, perm)
	if errors.Is(err, fs.ErrPermission) {
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := lock(f, !o.Shared, false); err != nil {
		waited = true
		if o.Waiting != nil {
			o.Waiting()
		}
		if err := lock(f, !o.Shared, true); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("locking %s: %w", path, err)
		}
	}
	return func() { f.Close() }, waited, nil
}

// Lock is Acquire with defaults: an exclusive lock, waiting for it.
func Lock(path string) (release func(), err error) {
	release, _, err = Acquire(path, Options{})
	return release, err
}

// Try takes an exclusive lock on the open file f without waiting; ErrHeld when another process
// holds it.
func Try(f *os.File) error {
	if err := lock(f, true, false); err != nil {
		return fmt.Errorf("%w: %w", ErrHeld, err)
	}
	return nil
}

// ErrHeld: another process holds the lock.
var ErrHeld = errors.New("the lock is held")

// Held reports whether some process holds a lock on path (false when there is no such file).
func Held(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := lock(f, true, false); err != nil {
		return true
	}
	unlock(f)
	return false
}
