package boxinit

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/execproto"
)

// maxSockets bounds one TypeSockets request.
const maxSockets = 64

// sendSockets answers TypeSockets: fresh, unconnected TCP sockets of this network namespace
// (the sandbox's), which the supervisor connects to a port inside for a published port.
func sendSockets(c *execproto.Conn, req execproto.Message) {
	if req.Count < 1 || req.Count > maxSockets || (req.Family != unix.AF_INET && req.Family != unix.AF_INET6) {
		c.Send(execproto.Message{Type: execproto.TypeError, Message: "bad sockets request"})
		return
	}
	files := make([]*os.File, 0, req.Count)
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for range req.Count {
		fd, err := unix.Socket(req.Family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			c.Send(execproto.Message{Type: execproto.TypeError, Message: "socket: " + err.Error()})
			return
		}
		files = append(files, os.NewFile(uintptr(fd), "socket"))
	}
	c.Send(execproto.Message{Type: execproto.TypeStarted}, files...)
}
