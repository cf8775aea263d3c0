//go:build !linux

package tarcopy

import (
	"errors"
	"io"
)

// Write is not supported here: it walks by descriptor, with Unix's openat.
func Write(w io.Writer, src, name string, o WriteOptions) (Report, error) {
	return Report{}, errors.New("copying into a sandbox is supported on Linux only")
}
