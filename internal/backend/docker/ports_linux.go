package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/docker/egresshost"
	"github.com/paddockhq/paddock/internal/execproto"
	"github.com/paddockhq/paddock/internal/portfwd"
)

// Published ports on the Docker backend are served by the sandbox's host side (the session
// host, sessions_linux.go), with the same control messages as the native supervisor's. The
// container keeps --network none: the host side connects into its network namespace.
//   - socket mode (the engine on this host): the container makes unconnected sockets
//     (`paddock __sockets`, one docker exec per batch, ahead of need) and hands them over on a
//     socket of the host side's in the bind-mounted socket folder; each connection then costs
//     what it costs natively.
//   - link mode (any other engine): each connection is a docker exec of `paddock __dial PORT`.

var _ backend.PortForwarder = (*Backend)(nil)

// errNoRelay: the container has no paddock relay to reach its ports with (a sandbox made
// without a network).
func errNoRelay(sb *backend.Sandbox) error {
	return fmt.Errorf("%w: sandbox %s has no network, and the Docker backend reaches a sandbox's ports through paddock's network relay in its container: recreate it with a network policy, or use the native backend",
		backend.ErrUnsupported, sb.Name)
}

// Publish implements backend.PortForwarder: the running sandbox's host side listens for p.
func (b *Backend) Publish(ctx context.Context, sb *backend.Sandbox, p backend.Port) error {
	if sb.Spec.Egress == nil {
		return errNoRelay(sb)
	}
	if err := b.runningHost(ctx, sb); err != nil {
		return err
	}
	return portfwd.Request(sessionSock(sb.Dir), portfwd.TypePublish, p)
}

// Unpublish implements backend.PortForwarder.
func (b *Backend) Unpublish(ctx context.Context, sb *backend.Sandbox, p backend.Port) error {
	if !answers(sb.Dir) {
		return backend.ErrNotRunning
	}
	return portfwd.Request(sessionSock(sb.Dir), portfwd.TypeUnpublish, p)
}

// runningHost makes sure the sandbox runs and its host side answers.
func (b *Backend) runningHost(ctx context.Context, sb *backend.Sandbox) error {
	c, err := b.client(ctx)
	if err != nil {
		return err
	}
	ci, ok, err := b.inspect(ctx, c, sb)
	if err != nil {
		return err
	}
	if !ok || ci.State == nil || !ci.State.Running {
		return backend.ErrNotRunning
	}
	return b.EnsureSessions(ctx, sb)
}

// publishAll publishes the sandbox's ports at its start; one in use fails the start.
func (b *Backend) publishAll(ctx context.Context, sb *backend.Sandbox) error {
	if len(sb.Spec.Ports) == 0 {
		return nil
	}
	if sb.Spec.Egress == nil {
		return errNoRelay(sb)
	}
	if err := b.EnsureSessions(ctx, sb); err != nil {
		return err
	}
	for _, p := range sb.Spec.Ports {
		if err := portfwd.Request(sessionSock(sb.Dir), portfwd.TypePublish, p); err != nil {
			return err
		}
	}
	return nil
}

// hostPorts is the host side's port server for the container of sb.
func hostPorts(ctx context.Context, c *client.Client, sb *backend.Sandbox) (*portfwd.Server, error) {
	ci, err := c.ContainerInspect(ctx, ContainerName(sb))
	if err != nil {
		return nil, err
	}
	if ci.Config == nil || len(ci.Config.Cmd) < 3 || ci.Config.Cmd[1] != "__relay" {
		return portfwd.NewServer(func(int) (portfwd.Conn, error) { return nil, errNoRelay(sb) }), nil
	}
	if ci.Config.Cmd[2] == "--link" {
		return portfwd.NewServer(func(port int) (portfwd.Conn, error) { return execDial(ctx, c, sb, port) }), nil
	}
	sf, err := newSocketFeed(ctx, c, sb)
	if err != nil {
		return nil, err
	}
	pool := &portfwd.Pool{Fill: sf.fill, Batch: 240, Ahead: 64}
	return portfwd.NewServer(pool.Dial), nil
}

// socketFeed receives the sockets that `paddock __sockets` makes in the container.
type socketFeed struct {
	c    *client.Client
	sb   *backend.Sandbox
	mu   sync.Mutex
	want map[string]chan []*os.File // by token
}

func newSocketFeed(ctx context.Context, c *client.Client, sb *backend.Sandbox) (*socketFeed, error) {
	path := filepath.Join(egresshost.SockDir(sb.Dir), egresshost.PortsSocket)
	os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The container's root may be any uid (user-namespace remapping); what arrives is checked.
	os.Chmod(path, 0o666)
	sf := &socketFeed{c: c, sb: sb, want: map[string]chan []*os.File{}}
	go func() { <-ctx.Done(); ln.Close(); os.Remove(path) }()
	go func() {
		// Anything in the container may connect: a few at a time, each for 10 s at most.
		slots := make(chan struct{}, 4)
		for {
			uc, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			select {
			case slots <- struct{}{}:
				go func() {
					defer func() { <-slots }()
					sf.take(execproto.NewConn(uc))
				}()
			default:
				uc.Close()
			}
		}
	}()
	return sf, nil
}

// take reads one batch; only a batch with a token the host side gave out is kept.
func (sf *socketFeed) take(c *execproto.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	m, fds, err := c.Recv()
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), "sandbox-socket")
	}
	sf.mu.Lock()
	ch, ok := sf.want[m.Message]
	delete(sf.want, m.Message)
	sf.mu.Unlock()
	if err != nil || m.Type != egresshost.TypeSockets || !ok {
		for _, f := range files {
			f.Close()
		}
		return
	}
	ch <- files
}

// fill has the container make n sockets of family, and waits for them.
func (sf *socketFeed) fill(family, n int) ([]*os.File, error) {
	var t [16]byte
	rand.Read(t[:])
	token := hex.EncodeToString(t[:])
	ch := make(chan []*os.File, 1)
	sf.mu.Lock()
	sf.want[token] = ch
	sf.mu.Unlock()
	defer func() {
		sf.mu.Lock()
		delete(sf.want, token)
		sf.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cr, err := sf.c.ContainerExecCreate(ctx, ContainerName(sf.sb), container.ExecOptions{User: "0:0",
		Cmd: []string{egresshost.Binary, "__sockets", egresshost.SocketDir + "/" + egresshost.PortsSocket, token, strconv.Itoa(family), strconv.Itoa(n)}})
	if err != nil {
		return nil, err
	}
	if err := sf.c.ContainerExecStart(ctx, cr.ID, container.ExecStartOptions{Detach: true}); err != nil {
		return nil, err
	}
	select {
	case files := <-ch:
		return files, nil
	case <-ctx.Done():
		return nil, errors.New("the container made no sockets for a published port")
	}
}

// execDial is one connection as a docker exec of `paddock __dial PORT` (link mode).
func execDial(ctx context.Context, c *client.Client, sb *backend.Sandbox, port int) (portfwd.Conn, error) {
	cr, err := c.ContainerExecCreate(ctx, ContainerName(sb), container.ExecOptions{User: "0:0", AttachStdin: true, AttachStdout: true,
		Cmd: []string{egresshost.Binary, "__dial", strconv.Itoa(port)}})
	if err != nil {
		return nil, err
	}
	hj, err := c.ContainerExecAttach(ctx, cr.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, io.Discard, hj.Reader)
		pw.CloseWithError(err)
	}()
	return &execConn{hj: hj, r: pr}, nil
}

type execConn struct {
	hj types.HijackedResponse
	r  *io.PipeReader
}

func (e *execConn) Read(p []byte) (int, error)  { return e.r.Read(p) }
func (e *execConn) Write(p []byte) (int, error) { return e.hj.Conn.Write(p) }
func (e *execConn) CloseWrite() error           { return e.hj.CloseWrite() }
func (e *execConn) Close() error {
	e.r.Close()
	e.hj.Close()
	return nil
}
