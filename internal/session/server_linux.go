//go:build linux

package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/paddockhq/paddock/internal/execproto"
)

// Term is a session's terminal as the server holds it: its master side, which the process
// behind it reads and writes through the other.
type Term interface {
	io.ReadWriter
	Resize(rows, cols uint16) error
	// Wait returns the process's exit code, once its output has ended.
	Wait() (int, error)
	Close() error
}

// Spawner starts a session's process on a new terminal.
type Spawner func(ctx context.Context, r Request) (Term, error)

// Server holds the sessions of one sandbox.
type Server struct {
	spawn Spawner
	state string // where Info is kept for paddock ls (written on every change, throttled)

	mu       sync.Mutex
	sessions map[string]*sess
	saveMu   sync.Mutex
	pumps    int // sessions whose pump runs (until their end is recorded), under mu
}

// Wait waits until every session started so far has ended and its end is recorded, or d passed;
// it reports whether they had.
func (s *Server) Wait(d time.Duration) bool {
	for end := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		n := s.pumps
		s.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// NewServer makes a server that starts sessions with spawn and keeps their Info in the file
// state.
func NewServer(spawn Spawner, state string) *Server {
	return &Server{spawn: spawn, state: state, sessions: map[string]*sess{}}
}

type sess struct {
	srv    *Server
	info   Info
	term   Term
	ring   *ring
	rows   uint16
	cols   uint16
	views  map[*viewer]struct{}
	ended  chan struct{}
	lastAt time.Time // when the state file last got the output time
}

// Serve answers clients on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) { s.ServeWith(ctx, ln, nil) }

// ServeWith serves ln as Serve does, for a socket shared with other services: a request whose
// type is not a session's goes to other (its descriptors closed), and other's answer back.
func (s *Server) ServeWith(ctx context.Context, ln *net.UnixListener, other func(execproto.Message) execproto.Message) {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go func() {
			c := execproto.NewConn(c)
			m, fds, err := c.Recv()
			if err != nil {
				c.Close()
				return
			}
			if strings.HasPrefix(m.Type, "session-") || other == nil {
				s.Handle(ctx, c, m, fds)
				return
			}
			for _, fd := range fds {
				syscall.Close(fd)
			}
			defer c.Close()
			c.Send(other(m))
		}()
	}
}

// Handle answers one request m (with the descriptors that came with it) on c, which it owns
// from then on: for a server that shares its socket with other services.
func (s *Server) Handle(ctx context.Context, c *execproto.Conn, m execproto.Message, fds []int) {
	var data *os.File
	if len(fds) > 0 {
		// Non-blocking, so that writes to a viewer that stopped reading time out.
		syscall.SetNonblock(fds[0], true)
		data = os.NewFile(uintptr(fds[0]), "session-data")
		for _, fd := range fds[1:] {
			os.NewFile(uintptr(fd), "").Close()
		}
	}
	var r Request
	if len(m.Payload) > 0 {
		if err := json.Unmarshal(m.Payload, &r); err != nil {
			fail(c, data, fmt.Errorf("bad request: %w", err))
			return
		}
	}
	if r.Name == "" {
		r.Name = DefaultName
	}
	switch m.Type {
	case TypeStart:
		info, err := s.start(ctx, r)
		if err != nil {
			fail(c, data, err)
			return
		}
		reply(c, info)
		c.Close()
	case TypeList:
		reply(c, s.list())
		c.Close()
	case TypeAttach, TypeLogs:
		if data == nil {
			fail(c, nil, errors.New("no data socket"))
			return
		}
		s.mu.Lock()
		se := s.sessions[r.Name]
		s.mu.Unlock()
		if se == nil {
			fail(c, data, fmt.Errorf("no session %q: start one with paddock run -d", r.Name))
			return
		}
		if m.Type == TypeLogs {
			se.logs(c, data, r)
		} else {
			se.attach(c, data, r)
		}
	default:
		fail(c, data, fmt.Errorf("unknown request %q", m.Type))
	}
}

func reply(c *execproto.Conn, v any) {
	b, _ := json.Marshal(v)
	c.Send(execproto.Message{Type: TypeOK, Payload: b})
}

func fail(c *execproto.Conn, data *os.File, err error) {
	c.Send(execproto.Message{Type: TypeError, Message: err.Error()})
	c.Close()
	if data != nil {
		data.Close()
	}
}

func (s *Server) start(ctx context.Context, r Request) (Info, error) {
	if len(r.Argv) == 0 {
		return Info{}, errors.New("no command")
	}
	s.mu.Lock()
	if se := s.sessions[r.Name]; se != nil && se.info.Running {
		s.mu.Unlock()
		return Info{}, fmt.Errorf("%w: session %q", ErrRunning, r.Name)
	}
	s.mu.Unlock()
	if r.Rows == 0 || r.Cols == 0 {
		r.Rows, r.Cols = 24, 80
	}
	t, err := s.spawn(ctx, r)
	if err != nil {
		return Info{}, err
	}
	se := &sess{srv: s, term: t, ring: newRing(ScrollbackSize), rows: r.Rows, cols: r.Cols,
		views: map[*viewer]struct{}{}, ended: make(chan struct{}),
		info: Info{Name: r.Name, Command: r.Argv, Running: true, Started: time.Now().UTC()}}
	s.mu.Lock()
	s.sessions[r.Name] = se
	info := se.info
	s.pumps++
	s.mu.Unlock()
	s.save()
	go func() {
		se.pump()
		s.mu.Lock()
		s.pumps--
		s.mu.Unlock()
	}()
	return info, nil
}

// ErrRunning: a session of that name is running already.
var ErrRunning = errors.New("already running")

func (s *Server) list() []Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Info, 0, len(s.sessions))
	for _, se := range s.sessions {
		i := se.info
		i.Viewers = len(se.views)
		i.Printed = se.ring.total
		out = append(out, i)
	}
	return out
}

// save writes the sessions' Info to the state file (at most every second while output flows).
func (s *Server) save() {
	if s.state == "" {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	b, _ := json.Marshal(s.list())
	tmp := s.state + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		slog.Warn("session state", "err", err)
		return
	}
	os.Rename(tmp, s.state)
}

// pump reads the session's output into its scrollback and to every viewer until it ends.
func (se *sess) pump() {
	type result struct {
		code int
		err  error
	}
	exited := make(chan result, 1)
	go func() {
		code, err := se.term.Wait()
		exited <- result{code, err}
		// What it printed last is read; then whatever it left running in the background
		// with the terminal open does not keep the session going.
		if d, ok := se.term.(interface{ SetReadDeadline(time.Time) error }); ok {
			d.SetReadDeadline(time.Now().Add(time.Second))
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := se.term.Read(buf)
		if n > 0 {
			now := time.Now()
			se.srv.mu.Lock()
			se.ring.Write(buf[:n])
			se.info.LastOutput = now.UTC()
			for v := range se.views {
				v.send(buf[:n])
			}
			save := now.Sub(se.lastAt) > time.Second
			if save {
				se.lastAt = now
			}
			se.srv.mu.Unlock()
			if save {
				se.srv.save()
			}
		}
		if err != nil {
			break
		}
	}
	res := <-exited
	code, err := res.code, res.err
	if err != nil {
		slog.Warn("session ended", "name", se.info.Name, "err", err)
		code = -1
	}
	se.term.Close()
	se.srv.mu.Lock()
	se.info.Running, se.info.ExitCode = false, code
	se.srv.mu.Unlock()
	se.srv.save()
	se.srv.mu.Lock()
	for v := range se.views {
		v.end(code)
	}
	se.views = map[*viewer]struct{}{}
	se.srv.mu.Unlock()
	close(se.ended)
}

// viewer is an attached terminal or a logs -f: output goes to it through a bounded queue, so a
// slow one never holds up the session (it is cut off instead).
type viewer struct {
	data   *os.File
	ctl    *execproto.Conn // nil for logs
	q      chan []byte
	gone   chan struct{}
	mu     sync.Mutex
	closed bool
}

const (
	viewerQueue   = 256 // chunks of output (at most 32 KiB each) a viewer may lag behind
	viewerTimeout = 10 * time.Second
)

func newViewer(data *os.File, ctl *execproto.Conn) *viewer {
	v := &viewer{data: data, ctl: ctl, q: make(chan []byte, viewerQueue), gone: make(chan struct{})}
	go func() {
		defer v.data.Close()
		for p := range v.q {
			v.data.SetWriteDeadline(time.Now().Add(viewerTimeout))
			if _, err := v.data.Write(p); err != nil {
				v.close()
				for range v.q {
				}
				return
			}
		}
	}()
	return v
}

// send queues output.
func (v *viewer) send(p []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	select {
	case v.q <- append([]byte(nil), p...):
	default:
		v.closeLocked() // too far behind
	}
}

// end tells the viewer the session ended with code.
func (v *viewer) end(code int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ctl != nil && !v.closed {
		v.ctl.Send(execproto.Message{Type: TypeExit, Code: code})
	}
	v.closeLocked()
}

func (v *viewer) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closeLocked()
}

func (v *viewer) closeLocked() {
	if v.closed {
		return
	}
	v.closed = true
	close(v.gone)
	close(v.q)
	if v.ctl != nil {
		v.ctl.Close()
	}
}

// attach adds a viewer with a keyboard: what it types goes to the session, the session's
// terminal takes its size, and it sees the scrollback's end and then the session redrawn.
func (se *sess) attach(c *execproto.Conn, data *os.File, r Request) {
	s := se.srv
	s.mu.Lock()
	if !se.info.Running {
		code := se.info.ExitCode
		s.mu.Unlock()
		fail(c, data, fmt.Errorf("%w (exit code %d): see its output with paddock logs", ErrEnded, code))
		return
	}
	v := newViewer(data, c)
	reply(c, se.info)
	// The screen as it was: cleared, then the end of the scrollback (a shell's lines; a full
	// screen program redraws itself when its size changes, below).
	v.send(append([]byte("\x1b[H\x1b[2J"), replayTail(se.ring.Bytes())...))
	se.views[v] = struct{}{}
	rows, cols := r.Rows, r.Cols
	if rows == 0 || cols == 0 {
		rows, cols = se.rows, se.cols
	}
	se.resize(rows, cols, true)
	s.mu.Unlock()
	s.save()

	// Keystrokes: from the viewer's data socket to the session.
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := data.Read(buf)
			if n > 0 {
				se.term.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	// Resizes, until the viewer detaches (closes its control socket) or the session ends.
	for {
		m, fds, err := c.Recv()
		for _, fd := range fds {
			os.NewFile(uintptr(fd), "").Close()
		}
		if err != nil {
			break
		}
		if m.Type == TypeResize {
			var rr Request
			if json.Unmarshal(m.Payload, &rr) == nil && rr.Rows > 0 && rr.Cols > 0 {
				s.mu.Lock()
				se.resize(rr.Rows, rr.Cols, false)
				s.mu.Unlock()
			}
		}
	}
	s.mu.Lock()
	delete(se.views, v)
	v.close()
	s.mu.Unlock()
	s.save()
}

// ErrEnded: the session is no longer running.
var ErrEnded = errors.New("the session has ended")

// resize gives the session's terminal a size; redraw makes a program that is already that size
// draw its screen again (two changes, two SIGWINCHs), for a viewer that just arrived.
func (se *sess) resize(rows, cols uint16, redraw bool) {
	if redraw && rows == se.rows && cols == se.cols && cols > 1 {
		se.term.Resize(rows, cols-1)
	}
	se.rows, se.cols = rows, cols
	se.term.Resize(rows, cols)
}

// replayTail is what a new viewer is shown of the scrollback: its last 64 KiB, from a line's
// start.
func replayTail(b []byte) []byte {
	const max = 64 << 10
	if len(b) <= max {
		return b
	}
	b = b[len(b)-max:]
	for i, c := range b {
		if c == '\n' {
			return b[i+1:]
		}
	}
	return b
}

// logs writes the scrollback (its last r.Tail lines) to data, and with r.Follow what comes
// after it until the session ends or the reader goes.
func (se *sess) logs(c *execproto.Conn, data *os.File, r Request) {
	s := se.srv
	s.mu.Lock()
	reply(c, se.info)
	tail := tailLines(se.ring.Bytes(), r.Tail)
	if !r.Follow || !se.info.Running {
		s.mu.Unlock()
		c.Close()
		data.SetWriteDeadline(time.Now().Add(viewerTimeout))
		data.Write(tail)
		data.Close()
		return
	}
	v := newViewer(data, nil)
	v.send(tail)
	se.views[v] = struct{}{}
	s.mu.Unlock()
	// Until the reader hangs up (its control socket) or the session ends.
	go func() {
		c.Recv()
		s.mu.Lock()
		delete(se.views, v)
		v.close()
		s.mu.Unlock()
	}()
	select {
	case <-se.ended:
	case <-v.gone:
	}
	c.Close()
}

// Listen makes the server's socket at path, for its owner only.
func Listen(path string) (*net.UnixListener, error) {
	os.Remove(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	os.Chmod(path, 0o600)
	return ln, nil
}
