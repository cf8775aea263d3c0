//go:build !linux

package egresshost

import (
	"fmt"
	"os"
)

// SocketsMain runs inside a Linux container only.
func SocketsMain([]string) int {
	fmt.Fprintln(os.Stderr, "paddock __sockets runs inside a Linux container only")
	return 2
}
