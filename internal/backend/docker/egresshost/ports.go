package egresshost

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
)

// Published ports on the Docker backend: the host side (the sandbox's session host) listens on
// the host and needs connections into the container's network namespace. In the socket mode it
// has the container make unconnected sockets (SocketsMain, run with docker exec) and hand them
// over on PortsSocket in the bind-mounted socket folder; the host side connects them, as the
// native supervisor does with the init's. Otherwise each connection is a docker exec of DialMain,
// its stdin and stdout the connection's two directions.

// PortsSocket is the host side's socket for sockets, in SockDir (SocketDir in the container).
const PortsSocket = "ports.sock"

// TypeSockets is the message SocketsMain sends, with the sockets and its token.
const TypeSockets = "sockets"

// maxSockets bounds one SocketsMain: the descriptors one message can carry (SCM_MAX_FD).
const maxSockets = 253

// DialMain is `paddock __dial PORT` in the container: it connects to PORT on the container's
// loopback (127.0.0.1, else ::1) and joins the connection to its stdin and stdout.
func DialMain(args []string) int {
	port, err := strconv.Atoi(firstArg(args))
	if err != nil || port < 1 || port > 65535 {
		fmt.Fprintln(os.Stderr, "usage: paddock __dial PORT")
		return 2
	}
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		if c, err = net.Dial("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err != nil {
			return 1
		}
	}
	tc := c.(*net.TCPConn)
	done := make(chan struct{})
	go func() {
		io.Copy(tc, os.Stdin)
		tc.CloseWrite()
		close(done)
	}()
	io.Copy(os.Stdout, tc)
	os.Stdout.Close()
	<-done
	return 0
}

func firstArg(args []string) string {
	if len(args) != 1 {
		return ""
	}
	return args[0]
}
