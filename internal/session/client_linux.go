//go:build linux

package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/paddockhq/paddock/internal/execproto"
)

// call sends one request (with data's other end, if any) and reads the reply.
func call(sock, typ string, r Request, data *os.File) (*execproto.Conn, execproto.Message, error) {
	c, err := execproto.Dial(sock)
	if err != nil {
		return nil, execproto.Message{}, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	b, _ := json.Marshal(r)
	var files []*os.File
	if data != nil {
		files = append(files, data)
	}
	if err := c.Send(execproto.Message{Type: typ, Payload: b}, files...); err != nil {
		c.Close()
		return nil, execproto.Message{}, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	m, fds, err := c.Recv()
	for _, fd := range fds {
		syscall.Close(fd)
	}
	if err != nil {
		c.Close()
		return nil, m, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	if m.Type == TypeError {
		c.Close()
		return nil, m, errors.New(m.Message)
	}
	return c, m, nil
}

// ErrUnreachable: no session server answers (the sandbox is not running).
var ErrUnreachable = errors.New("the sandbox's session server does not answer")

// Start starts a session.
func Start(sock string, r Request) (Info, error) {
	c, m, err := call(sock, TypeStart, r, nil)
	if err != nil {
		return Info{}, err
	}
	c.Close()
	var info Info
	err = json.Unmarshal(m.Payload, &info)
	return info, err
}

// List says what sessions the server holds.
func List(sock string) ([]Info, error) {
	c, m, err := call(sock, TypeList, Request{}, nil)
	if err != nil {
		return nil, err
	}
	c.Close()
	var out []Info
	err = json.Unmarshal(m.Payload, &out)
	return out, err
}

// ReadState reads the Info a server keeps in its state file (no file: no sessions). The file is
// the supervisor's, in the sandbox's private state; it is read bounded all the same.
func ReadState(path string) ([]Info, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, err
	}
	var out []Info
	return out, json.Unmarshal(b, &out)
}

func dataPair() (mine, theirs *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "session-data"), os.NewFile(uintptr(fds[1]), "session-data"), nil
}

// Logs writes a session's scrollback (its last tail lines; all with tail < 0) to w, and with
// follow what it prints next, until it ends or ctx does.
func Logs(ctx context.Context, sock, name string, tail int, follow bool, w io.Writer) error {
	mine, theirs, err := dataPair()
	if err != nil {
		return err
	}
	defer mine.Close()
	c, _, err := call(sock, TypeLogs, Request{Name: name, Tail: tail, Follow: follow}, theirs)
	theirs.Close()
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { mine.Close() })
	defer stop()
	_, err = io.Copy(w, mine)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// AttachResult says how an attach ended.
type AttachResult struct {
	Detached bool // the user pressed the detach keys: the session goes on
	Ended    bool // the session ended, with Code
	Code     int
}

// Attach joins a session with the caller's terminal (in and out) until the user detaches or the
// session ends. The terminal is raw meanwhile: every key, Ctrl-C too, goes to the session, and
// the session's terminal takes its size.
func Attach(ctx context.Context, sock, name string, in, out *os.File, keys []byte) (AttachResult, error) {
	var res AttachResult
	r := Request{Name: name}
	if ws, err := unix.IoctlGetWinsize(int(out.Fd()), unix.TIOCGWINSZ); err == nil {
		r.Rows, r.Cols = ws.Row, ws.Col
	} else if ws, err := unix.IoctlGetWinsize(int(in.Fd()), unix.TIOCGWINSZ); err == nil {
		r.Rows, r.Cols = ws.Row, ws.Col
	}
	mine, theirs, err := dataPair()
	if err != nil {
		return res, err
	}
	defer mine.Close()
	c, _, err := call(sock, TypeAttach, r, theirs)
	theirs.Close()
	if err != nil {
		return res, err
	}
	defer c.Close()
	if term.IsTerminal(int(in.Fd())) {
		if old, err := term.MakeRaw(int(in.Fd())); err == nil {
			defer term.Restore(int(in.Fd()), old)
		}
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			ws, err := unix.IoctlGetWinsize(int(out.Fd()), unix.TIOCGWINSZ)
			if err != nil {
				ws, err = unix.IoctlGetWinsize(int(in.Fd()), unix.TIOCGWINSZ)
			}
			if err == nil {
				b, _ := json.Marshal(Request{Rows: ws.Row, Cols: ws.Col})
				c.Send(execproto.Message{Type: TypeResize, Payload: b})
			}
		}
	}()
	detached := make(chan struct{})
	go func() {
		d := &detacher{keys: keys}
		buf := make([]byte, 4096)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				p, done := d.feed(buf[:n])
				if len(p) > 0 {
					mine.Write(p)
				}
				if done {
					close(detached)
					return
				}
			}
			if err != nil {
				return // no more input (not a terminal, at its end): keep watching
			}
		}
	}()
	outDone := make(chan struct{})
	go func() {
		io.Copy(out, mine)
		close(outDone)
	}()
	ended := make(chan execproto.Message, 1)
	go func() {
		for {
			m, fds, err := c.Recv()
			for _, fd := range fds {
				syscall.Close(fd)
			}
			if err != nil || m.Type == TypeExit {
				ended <- m
				return
			}
		}
	}()
	select {
	case <-detached:
		res.Detached = true
	case m := <-ended:
		if m.Type == TypeExit {
			res.Ended, res.Code = true, m.Code
		}
		select { // what it printed last
		case <-outDone:
		case <-time.After(500 * time.Millisecond):
		}
	case <-outDone:
		select {
		case m := <-ended:
			res.Ended, res.Code = m.Type == TypeExit, m.Code
		case <-time.After(500 * time.Millisecond):
		}
	case <-ctx.Done():
		res.Detached = true
	}
	return res, nil
}
