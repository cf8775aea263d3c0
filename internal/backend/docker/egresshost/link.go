package egresshost

// The link: egress for engines that are not on this host (Docker Desktop's VM, Colima, OrbStack,
// a remote engine). No host path can be mounted into their containers, so the container's
// connections travel over the engine's own API instead: the host side runs `paddock
// __egress-link` in the container with `docker exec` and speaks a stream multiplexer (yamux) over
// that exec's stdin and stdout with the relay, which listens on 127.0.0.1:PORT as in the socket
// mode and opens one stream per connection. The container still has no network of its own: when
// the host side is gone, the exec ends and the relay refuses every connection.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/paddockhq/paddock/internal/egress"
)

// Paths inside the container in the link mode (files are copied in, nothing is mounted).
const (
	// LinkSocket is the relay's socket for the link process (root only).
	LinkSocket = "/run/paddock/link.sock"
	// CAFile is paddock's CA; the relay composes the container's bundle (egress.CABundlePath)
	// from the image's roots and it at each start.
	CAFile = "/run/paddock/paddock-ca.pem"
)

// Link is what the host side needs to reach a container's relay.
type Link struct {
	Container string `json:"container"`
}

// ErrGone: the container does not exist or is not running.
var ErrGone = errors.New("the container is not running")

// Linker starts the link process in a running container and returns its stdin and stdout as
// one stream, with the container's start time (it names this run of the container). paddock-oci
// has one (it has the Docker client, see internal/backend/docker.Link); the paddock binary
// cannot serve a link.
type Linker func(ctx context.Context, container string) (io.ReadWriteCloser, string, error)

func linkedPath(stateDir string) string { return filepath.Join(stateDir, "egress-linked") }

// Linked reports the start time of the container run the host side is linked to ("" if none).
func Linked(stateDir string) string {
	b, _ := os.ReadFile(linkedPath(stateDir))
	return string(b)
}

func yamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.MaxStreamWindowSize = 4 << 20
	c.LogOutput = io.Discard
	c.StreamOpenTimeout = 10 * time.Second
	return c
}

// serveLinks keeps the container linked while it runs: it (re-)starts the link process, proves
// the relay answers (a ping), records the run it serves, and serves the proxy on the streams.
// It returns when the container has stopped (or never started within a minute).
func serveLinks(ctx context.Context, p *egress.Proxy, stateDir string, l Link, linker Linker, log *slog.Logger) error {
	if linker == nil {
		return errors.New("this paddock binary cannot link to a Docker engine's container; run paddock-oci")
	}
	defer os.Remove(linkedPath(stateDir))
	deadline := time.Now().Add(time.Minute)
	linked := false
	for ctx.Err() == nil {
		rwc, started, err := linker(ctx, l.Container)
		if err != nil {
			if linked && errors.Is(err, ErrGone) {
				return nil // the container stopped: so does its proxy
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("linking to container %s: %w", l.Container, err)
			}
			sleep(ctx, 20*time.Millisecond)
			continue
		}
		sess, err := yamux.Server(rwc, yamuxConfig())
		if err != nil {
			rwc.Close()
			return err
		}
		if err := ping(sess, 5*time.Second); err != nil {
			// The relay is not listening yet (the container is starting), or the link failed.
			sess.Close()
			if time.Now().After(deadline) {
				return fmt.Errorf("linking to container %s: the relay does not answer: %w", l.Container, err)
			}
			sleep(ctx, 20*time.Millisecond)
			continue
		}
		linked = true
		os.WriteFile(linkedPath(stateDir), []byte(started), 0o600)
		log.Info("linked", "container", l.Container, "started", started)
		stop := context.AfterFunc(ctx, func() { sess.Close() })
		p.Serve(ctx, sessionListener{sess})
		stop()
		os.Remove(linkedPath(stateDir))
		log.Info("link ended", "container", l.Container)
		deadline = time.Now().Add(10 * time.Second)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func ping(s *yamux.Session, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() {
		_, err := s.Ping()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return errors.New("no answer")
	}
}

// sessionListener serves a yamux session's streams as connections; a closed session is a
// closed listener.
type sessionListener struct{ s *yamux.Session }

func (l sessionListener) Accept() (net.Conn, error) {
	c, err := l.s.AcceptStream()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", net.ErrClosed, err)
	}
	return streamConn{c}, nil
}

// streamConn is a link stream whose deadline errors are the standard library's: yamux's own
// is not Temporary, and crypto/tls takes a deadline error that is not as the end of the
// connection. net/http sets a deadline in the past to stop its background read when a handler
// hijacks a connection (a WebSocket through an intercepted connection), which then broke.
type streamConn struct{ *yamux.Stream }

func (c streamConn) Read(b []byte) (int, error) {
	n, err := c.Stream.Read(b)
	return n, deadlineErr(err)
}

func (c streamConn) Write(b []byte) (int, error) {
	n, err := c.Stream.Write(b)
	return n, deadlineErr(err)
}

func deadlineErr(err error) error {
	if err == yamux.ErrTimeout {
		return os.ErrDeadlineExceeded
	}
	return err
}
func (l sessionListener) Close() error   { return l.s.Close() }
func (l sessionListener) Addr() net.Addr { return l.s.Addr() }

// relayLinked is the relay of the link mode: connections on addr become streams of the current
// link session; without one they are closed at once (no way out). It first composes the CA
// bundle from the image's roots and paddock's CA.
func relayLinked(addr, sock string) int {
	if ca, err := os.ReadFile(CAFile); err != nil {
		fmt.Printf("error: paddock's CA: %v\n", err)
		return 1
	} else if err := egress.WriteBundle(ca, egress.CABundlePath); err != nil {
		fmt.Printf("error: the CA bundle: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	os.Remove(sock)
	lu, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	os.Chmod(sock, 0o600)
	fmt.Println("ready")
	os.Stdout.Close()
	var cur atomic.Pointer[yamux.Session]
	go func() {
		for {
			c, err := lu.Accept()
			if err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			s, err := yamux.Client(c, yamuxConfig())
			if err != nil {
				c.Close()
				continue
			}
			// The newest link wins: the host side re-links after a failure.
			if old := cur.Swap(s); old != nil {
				old.Close()
			}
		}
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func() {
			defer c.Close()
			s := cur.Load()
			if s == nil || s.IsClosed() {
				return
			}
			st, err := s.OpenStream()
			if err != nil {
				return
			}
			defer st.Close()
			pipe(c, st)
		}()
	}
}

// pipe copies both ways until both are done, passing each side's end of writing on.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close() // a yamux stream's Close ends its writing only
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}

// LinkMain is `paddock __egress-link SOCKET` in the container, run by the host side with
// `docker exec`: it joins its stdin and stdout to the relay's link socket.
func LinkMain(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: paddock __egress-link SOCKET")
		return 2
	}
	var c net.Conn
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		// The relay may still be starting.
		if c, err = net.Dial("unix", args[0]); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "paddock: the egress relay:", err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		io.Copy(c, os.Stdin)
		c.(*net.UnixConn).CloseWrite()
		close(done)
	}()
	io.Copy(os.Stdout, c)
	return 0
}
