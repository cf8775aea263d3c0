package native

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/execproto"
	"github.com/paddockhq/paddock/internal/portfwd"
	"github.com/paddockhq/paddock/internal/session"
)

// Background sessions (paddock run -d AGENT) are held by the sandbox's supervisor: it asks the
// init for the process on a terminal, as paddock exec -t does, and keeps the terminal's master
// side, so the session outlives every paddock command and terminal.

var _ backend.SessionHost = (*Backend)(nil)

func (l layout) control() string      { return filepath.Join(l.dir, "supervisor.sock") }
func (l layout) sessionState() string { return filepath.Join(l.dir, "sessions.json") }

// SessionSocket is where the sandbox's supervisor answers for its sessions.
func (b *Backend) SessionSocket(sb *backend.Sandbox) string { return newLayout(sb.Dir).control() }

// EnsureSessions implements backend.SessionHost: the supervisor serves sessions from its start.
func (b *Backend) EnsureSessions(context.Context, *backend.Sandbox) error { return nil }

// SessionState is where the supervisor keeps what its sessions do.
func (b *Backend) SessionState(sb *backend.Sandbox) string { return newLayout(sb.Dir).sessionState() }

// serveControl starts the supervisor's control socket (until ctx ends): background sessions
// and published ports, for paddock's commands. The socket is in the sandbox's state folder,
// which the sandbox never sees; only its owner may connect.
func serveControl(ctx context.Context, l layout, ports *portfwd.Server) {
	os.Remove(l.sessionState())
	ln, err := session.Listen(l.control())
	if err != nil {
		slog.Warn("control socket", "err", err)
		return
	}
	sessions := session.NewServer(initSpawner(l.sock()), l.sessionState())
	go sessions.ServeWith(ctx, ln, ports.Handle)
}

// stopControl removes what the control socket leaves when the sandbox stops.
func stopControl(l layout) {
	os.Remove(l.control())
	os.Remove(l.sessionState())
}

func initSpawner(sock string) session.Spawner {
	return func(ctx context.Context, r session.Request) (session.Term, error) {
		c, err := execproto.Dial(sock)
		if err != nil {
			return nil, err
		}
		m := execproto.Message{Type: execproto.TypeExec, Argv: r.Argv, Env: r.Env, Dir: r.Dir, User: r.User,
			TTY: true, Rows: r.Rows, Cols: r.Cols}
		if err := c.Send(m); err != nil {
			c.Close()
			return nil, err
		}
		reply, fds, err := c.Recv()
		if err != nil {
			c.Close()
			return nil, err
		}
		if reply.Type == execproto.TypeError {
			closeFDs(fds)
			c.Close()
			return nil, errors.New(reply.Message)
		}
		if reply.Type != execproto.TypeStarted || len(fds) != 1 {
			closeFDs(fds)
			c.Close()
			return nil, fmt.Errorf("unexpected %q reply from the sandbox", reply.Type)
		}
		unix.SetNonblock(fds[0], true)
		return &initTerm{c: c, master: os.NewFile(uintptr(fds[0]), "pty")}, nil
	}
}

// initTerm is a session's terminal: the master side the init handed over, and the connection
// on which the init reports the process's end.
type initTerm struct {
	c      *execproto.Conn
	master *os.File
}

func (t *initTerm) Read(p []byte) (int, error)  { return t.master.Read(p) }
func (t *initTerm) Write(p []byte) (int, error) { return t.master.Write(p) }

func (t *initTerm) SetReadDeadline(d time.Time) error { return t.master.SetReadDeadline(d) }

func (t *initTerm) Resize(rows, cols uint16) error {
	return unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}

func (t *initTerm) Wait() (int, error) {
	for {
		m, fds, err := t.c.Recv()
		closeFDs(fds)
		if err != nil {
			return -1, err
		}
		switch m.Type {
		case execproto.TypeExit:
			return m.Code, nil
		case execproto.TypeError:
			return -1, errors.New(m.Message)
		}
	}
}

func (t *initTerm) Close() error {
	t.master.Close()
	return t.c.Close()
}
