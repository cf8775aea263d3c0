package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/execproto"
)

// Published ports (paddock run -p) are served by the sandbox's supervisor: it listens on the
// host and, for each connection, connects a socket the init made in the sandbox's network
// namespace (execproto.TypeSockets) to the port on the sandbox's loopback, then the kernel
// splices the bytes both ways. The sandbox gets no network interface, root or rootless.

var _ backend.PortForwarder = (*Backend)(nil)

// Control messages for ports (Payload: a backend.Port).
const (
	typePublish   = "port-publish"
	typeUnpublish = "port-unpublish"
)

type portServer struct {
	execSock string
	mu       sync.Mutex
	open     map[string]net.Listener // by host address
	poolMu   sync.Mutex
	pool     map[int][]*os.File // unconnected sockets from the init, by family
}

// publishPorts listens for each of ports (before the sandbox starts: one in use fails the start).
func publishPorts(l layout, ports []backend.Port) (*portServer, error) {
	ps := &portServer{execSock: l.sock(), open: map[string]net.Listener{}, pool: map[int][]*os.File{}}
	for _, p := range ports {
		if err := ps.publish(p); err != nil {
			ps.closeAll()
			return nil, err
		}
	}
	return ps, nil
}

func (ps *portServer) closeAll() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for k, ln := range ps.open {
		ln.Close()
		delete(ps.open, k)
	}
}

// trimCategory is a message that came as text without ErrPortInUse's words.
func trimCategory(msg string) string { return strings.TrimPrefix(msg, backend.ErrPortInUse.Error()) }

// portError says why a published port's host address cannot be listened on.
func portError(p backend.Port, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w: port %s is in use on the host: pick another with -p HOSTPORT:%d", backend.ErrPortInUse, p.HostAddr(), p.Port)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w: port %s: only root may listen on ports below 1024", backend.ErrPortInUse, p.HostAddr())
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%w: port %s: the host has no such address", backend.ErrPortInUse, p.HostAddr())
	}
	return fmt.Errorf("publishing port %s: %w", p.HostAddr(), err)
}

func (ps *portServer) publish(p backend.Port) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, ok := ps.open[p.HostAddr()]; ok {
		return nil
	}
	ln, err := net.Listen("tcp", p.HostAddr())
	if err != nil {
		return portError(p, err)
	}
	ps.open[p.HostAddr()] = ln
	go ps.accept(ln, p.Port)
	return nil
}

func (ps *portServer) unpublish(p backend.Port) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ln, ok := ps.open[p.HostAddr()]; ok {
		ln.Close()
		delete(ps.open, p.HostAddr())
	}
}

func (ps *portServer) handle(m execproto.Message) execproto.Message {
	var p backend.Port
	if err := json.Unmarshal(m.Payload, &p); err != nil || p.HostPort < 1 || p.Port < 1 || p.HostPort > 65535 || p.Port > 65535 {
		return execproto.Message{Type: execproto.TypeError, Message: "bad port request"}
	}
	switch m.Type {
	case typePublish:
		if err := ps.publish(p); err != nil {
			return execproto.Message{Type: execproto.TypeError, Message: err.Error()}
		}
	case typeUnpublish:
		ps.unpublish(p)
	default:
		return execproto.Message{Type: execproto.TypeError, Message: fmt.Sprintf("unknown request %q", m.Type)}
	}
	return execproto.Message{Type: execproto.TypeExit}
}

func (ps *portServer) accept(ln net.Listener, port int) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go ps.forward(c.(*net.TCPConn), port)
	}
}

// forward carries one connection to the port inside; nothing listening there closes it, as a
// refused connection would.
func (ps *portServer) forward(c *net.TCPConn, port int) {
	defer c.Close()
	in, err := ps.dial(port)
	if err != nil {
		slog.Debug("published port", "port", port, "err", err)
		return
	}
	defer in.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(in, c)
		in.CloseWrite()
		close(done)
	}()
	io.Copy(c, in)
	c.CloseWrite()
	<-done
}

// dial connects to the port on the sandbox's loopback: 127.0.0.1, else ::1 (a server that
// listens on "localhost" may have only the one).
func (ps *portServer) dial(port int) (*net.TCPConn, error) {
	var last error
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		f, err := ps.socket(fam)
		if err != nil {
			return nil, err
		}
		var sa unix.Sockaddr = &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
		if fam == unix.AF_INET6 {
			sa = &unix.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}
		}
		if err := unix.Connect(int(f.Fd()), sa); err != nil {
			f.Close()
			last = err
			if errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENETUNREACH) {
				continue
			}
			return nil, err
		}
		nc, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		return nc.(*net.TCPConn), nil
	}
	return nil, last
}

const socketBatch = 16

// socket takes an unconnected socket of the sandbox's network namespace from the pool, which it
// fills from the init a batch at a time.
func (ps *portServer) socket(family int) (*os.File, error) {
	ps.poolMu.Lock()
	defer ps.poolMu.Unlock()
	if len(ps.pool[family]) == 0 {
		c, err := execproto.Dial(ps.execSock)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		if err := c.Send(execproto.Message{Type: execproto.TypeSockets, Count: socketBatch, Family: family}); err != nil {
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
		for _, fd := range fds {
			ps.pool[family] = append(ps.pool[family], os.NewFile(uintptr(fd), "sandbox-socket"))
		}
	}
	n := len(ps.pool[family]) - 1
	f := ps.pool[family][n]
	ps.pool[family] = ps.pool[family][:n]
	return f, nil
}

// Publish implements backend.PortForwarder: the running sandbox's supervisor listens for p.
func (b *Backend) Publish(ctx context.Context, sb *backend.Sandbox, p backend.Port) error {
	return b.portRequest(sb, typePublish, p)
}

// Unpublish implements backend.PortForwarder.
func (b *Backend) Unpublish(ctx context.Context, sb *backend.Sandbox, p backend.Port) error {
	return b.portRequest(sb, typeUnpublish, p)
}

func (b *Backend) portRequest(sb *backend.Sandbox, typ string, p backend.Port) error {
	if _, alive := b.readState(sb); !alive {
		return backend.ErrNotRunning
	}
	c, err := execproto.Dial(newLayout(sb.Dir).control())
	if err != nil {
		return fmt.Errorf("%w: %w", backend.ErrNotRunning, err)
	}
	defer c.Close()
	body, _ := json.Marshal(p)
	if err := c.Send(execproto.Message{Type: typ, Payload: body}); err != nil {
		return err
	}
	m, fds, err := c.Recv()
	closeFDs(fds)
	if err != nil {
		return err
	}
	if m.Type == execproto.TypeError {
		if typ == typePublish && m.Message != "bad port request" {
			return fmt.Errorf("%w%s", backend.ErrPortInUse, trimCategory(m.Message))
		}
		return errors.New(m.Message)
	}
	return nil
}
