package portfwd

import (
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

// Server listens on the host for a sandbox's published ports.
type Server struct {
	dial Dialer
	mu   sync.Mutex
	open map[string]net.Listener // by host address
}

// NewServer serves ports through dial.
func NewServer(dial Dialer) *Server {
	return &Server{dial: dial, open: map[string]net.Listener{}}
}

// Publish listens for p (nothing when it listens already).
func (s *Server) Publish(p backend.Port) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.open[p.HostAddr()]; ok {
		return nil
	}
	ln, err := net.Listen("tcp", p.HostAddr())
	if err != nil {
		return hostError(p, err)
	}
	s.open[p.HostAddr()] = ln
	go s.accept(ln, p.Port)
	return nil
}

// Unpublish stops listening for p; its connections go on.
func (s *Server) Unpublish(p backend.Port) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ln, ok := s.open[p.HostAddr()]; ok {
		ln.Close()
		delete(s.open, p.HostAddr())
	}
}

// Close stops every listener.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ln := range s.open {
		ln.Close()
		delete(s.open, k)
	}
}

// Handle answers a TypePublish or TypeUnpublish control message.
func (s *Server) Handle(m execproto.Message) execproto.Message {
	var p backend.Port
	if err := json.Unmarshal(m.Payload, &p); err != nil || !ValidPort(p) {
		return execproto.Message{Type: execproto.TypeError, Message: badRequest}
	}
	switch m.Type {
	case TypePublish:
		if err := s.Publish(p); err != nil {
			return execproto.Message{Type: execproto.TypeError, Message: err.Error()}
		}
	case TypeUnpublish:
		s.Unpublish(p)
	default:
		return execproto.Message{Type: execproto.TypeError, Message: fmt.Sprintf("unknown request %q", m.Type)}
	}
	return execproto.Message{Type: execproto.TypeExit}
}

const badRequest = "bad port request"

// Request sends a port request to the control socket at sock.
func Request(sock, typ string, p backend.Port) error {
	c, err := execproto.Dial(sock)
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
		if typ == TypePublish && m.Message != badRequest {
			return fmt.Errorf("%w%s", backend.ErrPortInUse, strings.TrimPrefix(m.Message, backend.ErrPortInUse.Error()))
		}
		return errors.New(m.Message)
	}
	return nil
}

// hostError says why a published port's host address cannot be listened on.
func hostError(p backend.Port, err error) error {
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

func (s *Server) accept(ln net.Listener, port int) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go s.forward(c.(*net.TCPConn), port)
	}
}

// forward carries one connection to the port inside; nothing listening there closes it, as a
// refused connection would.
func (s *Server) forward(c *net.TCPConn, port int) {
	defer c.Close()
	in, err := s.dial(port)
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

// Pool keeps unconnected TCP sockets of the sandbox's network namespace, filled a batch at a
// time by Fill (which asks the sandbox side to make them); Dial connects one.
type Pool struct {
	// Fill makes n unconnected sockets of family in the sandbox's network namespace.
	Fill func(family, n int) ([]*os.File, error)
	// Batch is how many Fill makes at a time; Ahead, when above 0, refills in the background
	// once fewer than Ahead are left (for a Fill that takes long).
	Batch, Ahead int

	mu      sync.Mutex
	socks   map[int][]*os.File
	filling map[int]bool
}

// Dial connects to port on the sandbox's loopback: 127.0.0.1, else ::1 (a server that listens
// on "localhost" may have only the one).
func (p *Pool) Dial(port int) (Conn, error) {
	var last error
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		f, err := p.socket(fam)
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

func (p *Pool) socket(family int) (*os.File, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.socks == nil {
		p.socks, p.filling = map[int][]*os.File{}, map[int]bool{}
	}
	if len(p.socks[family]) == 0 {
		got, err := p.fill(family)
		if err != nil {
			return nil, err
		}
		p.socks[family] = append(p.socks[family], got...)
	}
	n := len(p.socks[family]) - 1
	f := p.socks[family][n]
	p.socks[family] = p.socks[family][:n]
	if p.Ahead > 0 && n < p.Ahead && !p.filling[family] {
		p.filling[family] = true
		go func() {
			got, err := p.fill(family)
			p.mu.Lock()
			defer p.mu.Unlock()
			p.filling[family] = false
			if err == nil {
				p.socks[family] = append(p.socks[family], got...)
			}
		}()
	}
	return f, nil
}

// fill asks for a batch and keeps only what is what was asked for: the sandbox side is not
// trusted to hand over anything else.
func (p *Pool) fill(family int) ([]*os.File, error) {
	got, err := p.Fill(family, max(p.Batch, 1))
	if err != nil {
		return nil, err
	}
	ok := got[:0]
	for _, f := range got {
		if fresh(int(f.Fd()), family) {
			ok = append(ok, f)
		} else {
			f.Close()
		}
	}
	if len(ok) == 0 {
		return nil, errors.New("the sandbox gave no usable sockets")
	}
	return ok, nil
}

// fresh reports whether fd is an unconnected, non-listening TCP socket of family.
func fresh(fd, family int) bool {
	dom, err1 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	typ, err2 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	proto, err3 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	acc, err4 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return false
	}
	if dom != family || typ != unix.SOCK_STREAM || proto != unix.IPPROTO_TCP || acc != 0 {
		return false
	}
	_, err := unix.Getpeername(fd)
	return errors.Is(err, unix.ENOTCONN)
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
