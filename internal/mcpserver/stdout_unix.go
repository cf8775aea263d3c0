//go:build unix

package mcpserver

import (
	"os"

	"golang.org/x/sys/unix"
)

// protocolOut is the server's own copy of stdout, for the protocol alone; stdout itself becomes
// stderr, so that nothing else printed by paddock or a library can corrupt the protocol.
func protocolOut() (*os.File, error) {
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, err
	}
	if err := unix.Dup2(2, 1); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "mcp-out"), nil
}
