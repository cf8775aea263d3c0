package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/session"
	"github.com/paddockhq/paddock/internal/store"
)

// Background sessions: paddock run -d AGENT starts the agent on a terminal its sandbox's
// supervisor keeps (internal/session); attach and logs join it later, from any terminal.

// SessionInfo says what a sandbox's background session is doing.
type SessionInfo = session.Info

// ErrNoSessions: the sandbox's backend keeps no background sessions.
var ErrNoSessions = errors.New("background sessions are not supported on this backend yet")

func (m *Manager) sessionHost(rec *store.Record) (backend.SessionHost, error) {
	sh, ok := m.For(rec).(backend.SessionHost)
	if !ok {
		return nil, fmt.Errorf("%w: %w (sandbox %s is on the %s backend)", ErrBadInput, ErrNoSessions, rec.Name, rec.Backend)
	}
	return sh, nil
}

// SessionSize is a background session's terminal size until a viewer attaches.
type SessionSize struct{ Rows, Cols uint16 }

// StartSession starts rec's agent with args in a background session (the sandbox is started
// first if it is stopped). A session that is already running is an error that says so.
func (m *Manager) StartSession(ctx context.Context, rec *store.Record, args []string, size SessionSize) (SessionInfo, error) {
	sh, err := m.sessionHost(rec)
	if err != nil {
		return SessionInfo{}, err
	}
	a, err := agent.Lookup(rec.Agent)
	if err != nil {
		return SessionInfo{}, err
	}
	if err := m.Up(ctx, rec); err != nil {
		return SessionInfo{}, err
	}
	req, err := m.agentRequest(ctx, rec, a, args, true)
	if err != nil {
		return SessionInfo{}, err
	}
	if err := sh.EnsureSessions(ctx, m.Sandbox(rec)); err != nil {
		return SessionInfo{}, err
	}
	info, err := session.Start(sh.SessionSocket(m.Sandbox(rec)), session.Request{Name: session.DefaultName,
		Argv: req.Argv, Env: req.Env, Dir: req.Dir, User: req.User, Rows: size.Rows, Cols: size.Cols})
	if errors.Is(err, session.ErrUnreachable) {
		return info, fmt.Errorf("sandbox %s: %w (restart it with paddock stop and start it again)", rec.Name, err)
	}
	if err != nil {
		return info, fmt.Errorf("%w: sandbox %s: %w", ErrBadInput, rec.Name, err)
	}
	return info, nil
}

// Session says what rec's background session is doing (nil: none, or the sandbox is stopped).
func (m *Manager) Session(rec *store.Record) *SessionInfo {
	sh, ok := m.For(rec).(backend.SessionHost)
	if !ok {
		return nil
	}
	infos, err := session.ReadState(sh.SessionState(m.Sandbox(rec)))
	if err != nil || len(infos) == 0 {
		return nil
	}
	for _, i := range infos {
		if i.Name == session.DefaultName {
			return &i
		}
	}
	return nil
}

// noSession is the error for a sandbox with no session to join.
func noSession(rec *store.Record) error {
	return fmt.Errorf("%w: sandbox %s has no session: start one with paddock run -d %s", ErrBadInput, rec.Name, rec.Name)
}

// AttachOptions shape paddock attach.
type AttachOptions struct {
	// DetachKeys end the attachment and leave the session running (docker's notation; ""
	// for ctrl-p,ctrl-q).
	DetachKeys string
}

// AttachResult says how an attachment ended.
type AttachResult = session.AttachResult

// Attach joins rec's background session with the caller's terminal until the user detaches
// or the session ends.
func (m *Manager) Attach(ctx context.Context, rec *store.Record, in, out *os.File, o AttachOptions) (AttachResult, error) {
	keys, err := session.ParseDetachKeys(o.DetachKeys)
	if err != nil {
		return AttachResult{}, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	sh, err := m.sessionHost(rec)
	if err != nil {
		return AttachResult{}, err
	}
	if m.Session(rec) == nil {
		return AttachResult{}, noSession(rec)
	}
	res, err := session.Attach(ctx, sh.SessionSocket(m.Sandbox(rec)), session.DefaultName, in, out, keys)
	if err != nil && !errors.Is(err, session.ErrUnreachable) {
		err = fmt.Errorf("%w: sandbox %s: %w", ErrBadInput, rec.Name, err)
	}
	return res, err
}

// LogsOptions shape paddock logs.
type LogsOptions struct {
	Tail   int // lines from the end; < 0: all that is kept
	Follow bool
}

// Logs writes what rec's background session printed to w (the scrollback the supervisor keeps,
// session.ScrollbackSize), and with Follow what it prints next until it ends or ctx does.
func (m *Manager) Logs(ctx context.Context, rec *store.Record, w io.Writer, o LogsOptions) error {
	sh, err := m.sessionHost(rec)
	if err != nil {
		return err
	}
	if m.Session(rec) == nil {
		return noSession(rec)
	}
	err = session.Logs(ctx, sh.SessionSocket(m.Sandbox(rec)), session.DefaultName, o.Tail, o.Follow, w)
	if err != nil && !errors.Is(err, session.ErrUnreachable) {
		err = fmt.Errorf("%w: sandbox %s: %w", ErrBadInput, rec.Name, err)
	}
	return err
}
