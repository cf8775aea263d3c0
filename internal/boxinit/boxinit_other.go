//go:build !linux

package boxinit

import (
	"fmt"
	"os"
)

// Main is the sandbox init; it needs Linux.
func Main() int {
	fmt.Fprintln(os.Stderr, "paddock: the sandbox init needs Linux")
	return 1
}
