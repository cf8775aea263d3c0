//go:build !unix

package docker

import "os"

var interruptSignals = []os.Signal{os.Interrupt}

func signalNumber(os.Signal) int { return 2 }

// onResize: Windows consoles send no resize signal; the size is set once at the start.
func onResize(func()) (stop func()) { return func() {} }
