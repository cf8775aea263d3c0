package native

import (
	"context"
	"fmt"
	"os"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/execproto"
	"github.com/paddockhq/paddock/internal/portfwd"
)

// Published ports (paddock run -p) are served by the sandbox's supervisor (internal/portfwd):
// it listens on the host and connects, for each connection, a socket the init made in the
// sandbox's network namespace (execproto.TypeSockets). The sandbox gets no network interface,
// root or rootless.

var _ backend.PortForwarder = (*Backend)(nil)

const socketBatch = 16

// publishPorts listens for each of ports (before the sandbox starts: one in use fails the start).
func publishPorts(l layout, ports []backend.Port) (*portfwd.Server, error) {
	pool := &portfwd.Pool{Fill: initSockets(l.sock()), Batch: socketBatch}
	ps := portfwd.NewServer(pool.Dial)
	for _, p := range ports {
		if err := ps.Publish(p); err != nil {
			ps.Close()
			return nil, err
		}
	}
	return ps, nil
}

// initSockets asks the init, on its exec socket, for sockets of the sandbox's namespace.
func initSockets(execSock string) func(family, n int) ([]*os.File, error) {
	return func(family, n int) ([]*os.File, error) {
		c, err := execproto.Dial(execSock)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		if err := c.Send(execproto.Message{Type: execproto.TypeSockets, Count: n, Family: family}); err != nil {
			return nil, err
		}
		m, fds, err := c.Recv()
		if err != nil {
			return nil, err
		}
		if m.Type != execproto.TypeStarted || len(fds) == 0 {
			closeFDs(fds)
			return nil, fmt.Errorf("the sandbox gave no sockets: %s", m.Message)
		}
		files := make([]*os.File, len(fds))
		for i, fd := range fds {
			files[i] = os.NewFile(uintptr(fd), "sandbox-socket")
		}
		return files, nil
	}
}

// Publish implements backend.PortForwarder: the running sandbox's supervisor listens for p.
func (b *Backend) Publish(ctx context.Context, sb *backend.Sandbox, p backend.Port) error {
	return b.portRequest(sb, portfwd.TypePublish, p)
}

// Unpublish implements backend.PortForwarder.
func (b *Backend) Unpublish(ctx context.Context, sb *backend.Sandbox, p backend.Port) error {
	return b.portRequest(sb, portfwd.TypeUnpublish, p)
}

func (b *Backend) portRequest(sb *backend.Sandbox, typ string, p backend.Port) error {
	if _, alive := b.readState(sb); !alive {
		return backend.ErrNotRunning
	}
	return portfwd.Request(newLayout(sb.Dir).control(), typ, p)
}
