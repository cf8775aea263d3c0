// Package portfwd serves a sandbox's published ports (paddock run -p) on the host: a listener
// for each host address, and for each connection a socket of the sandbox's network namespace
// connected to the port on the sandbox's loopback, the bytes spliced both ways by the kernel.
// The sandbox gets no network interface. The native supervisor and the Docker backend's host
// side both use it; they differ only in how they get sockets of the sandbox's namespace.
//
// Linux only (portfwd_linux.go).
package portfwd

import (
	"io"

	"github.com/paddockhq/paddock/internal/backend"
)

// Control messages on a sandbox's control socket (Payload: a backend.Port).
const (
	TypePublish   = "port-publish"
	TypeUnpublish = "port-unpublish"
)

// IsRequest reports whether a control message type is one of this package's.
func IsRequest(typ string) bool { return typ == TypePublish || typ == TypeUnpublish }

// Conn is one connection into the sandbox.
type Conn interface {
	io.ReadWriteCloser
	CloseWrite() error
}

// Dialer connects to port on the sandbox's loopback.
type Dialer func(port int) (Conn, error)

// ValidPort reports whether p can be served.
func ValidPort(p backend.Port) bool {
	return p.HostPort >= 1 && p.Port >= 1 && p.HostPort <= 65535 && p.Port <= 65535
}
