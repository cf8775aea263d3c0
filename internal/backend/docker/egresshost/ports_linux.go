package egresshost

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/paddockhq/paddock/internal/execproto"
)

// SocketsMain is `paddock __sockets SOCKET TOKEN FAMILY N` in the container: N unconnected TCP
// sockets of FAMILY, sent on SOCKET with TOKEN.
func SocketsMain(args []string) int {
	if len(args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: paddock __sockets SOCKET TOKEN FAMILY N")
		return 2
	}
	family, err1 := strconv.Atoi(args[2])
	n, err2 := strconv.Atoi(args[3])
	if err1 != nil || err2 != nil || n < 1 || n > maxSockets || (family != syscall.AF_INET && family != syscall.AF_INET6) {
		fmt.Fprintln(os.Stderr, "paddock __sockets: bad family or count")
		return 2
	}
	files := make([]*os.File, 0, n)
	for range n {
		fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "paddock __sockets:", err)
			return 1
		}
		files = append(files, os.NewFile(uintptr(fd), "socket"))
	}
	c, err := execproto.Dial(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "paddock __sockets:", err)
		return 1
	}
	defer c.Close()
	if err := c.Send(execproto.Message{Type: TypeSockets, Message: args[1]}, files...); err != nil {
		fmt.Fprintln(os.Stderr, "paddock __sockets:", err)
		return 1
	}
	// Wait until the host side has read them (it closes), so none is lost with this process.
	c.Recv()
	return 0
}
