//go:build !linux

package session

import (
	"context"
	"errors"
	"io"
	"os"
)

var errUnsupported = errors.New("background sessions are supported on Linux only")

// ErrUnreachable: no session server answers.
var ErrUnreachable = errUnsupported

func Start(string, Request) (Info, error) { return Info{}, errUnsupported }
func List(string) ([]Info, error)         { return nil, errUnsupported }
func ReadState(string) ([]Info, error)    { return nil, nil }
func Logs(context.Context, string, string, int, bool, io.Writer) error {
	return errUnsupported
}

// AttachResult says how an attach ended.
type AttachResult struct {
	Detached, Ended bool
	Code            int
}

func Attach(context.Context, string, string, *os.File, *os.File, []byte) (AttachResult, error) {
	return AttachResult{}, errUnsupported
}
