//go:build !unix

package docker

import (
	"errors"
	"os"
)

var interruptSignals = []os.Signal{os.Interrupt}

func signalNumber(os.Signal) int { return 2 }

// onResize: Windows consoles send no resize signal; the size is set once at the start.
func onResize(func()) (stop func()) { return func() {} }

// pidInside: the engine's processes are not this host's (a VM's).
func pidInside(int) (int, error) { return 0, errors.New("the engine's processes are not on this host") }
