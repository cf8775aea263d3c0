//go:build unix

package execproto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ErrUnreachable means the sandbox's init did not answer on its socket.
var ErrUnreachable = errors.New("sandbox init is not reachable")

// IO are the caller's streams for one exec.
type IO struct {
	Stdin, Stdout, Stderr *os.File
	AttachStdin           bool
}

// Dial connects to a unix socket, also when its path is longer than sun_path allows.
func Dial(path string) (*Conn, error) {
	addr := path
	if len(path) > 100 {
		dir, err := os.Open(filepath.Dir(path))
		if err != nil {
			return nil, err
		}
		defer dir.Close()
		addr = fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path))
	}
	uc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return NewConn(uc), nil
}

// Run starts req on the init behind socket path and returns the exit code.
func Run(ctx context.Context, path string, req Message, stdio IO) (int, error) {
	c, err := Dial(path)
	if err != nil {
		return -1, err
	}
	defer c.Close()
	req.Type = TypeExec
	if req.TTY {
		return runTTY(ctx, c, req, stdio)
	}
	return runPipes(ctx, c, req, stdio)
}

// relay copies between a caller stream that is a terminal and a pipe handed to the sandbox, so no
// process inside ever holds the user's terminal (it could inject input into it).
type relay struct {
	give  *os.File // end passed to the sandbox
	keep  *os.File // end we copy through
	done  chan struct{}
	input bool
}

func newRelay(f *os.File, input bool) (*relay, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	rl := &relay{done: make(chan struct{}), input: input}
	if input {
		rl.give, rl.keep = r, w
		go func() {
			defer close(rl.done)
			io.Copy(w, f)
			w.Close()
		}()
	} else {
		rl.give, rl.keep = w, r
		go func() {
			defer close(rl.done)
			io.Copy(f, r)
		}()
	}
	return rl, nil
}

func runPipes(ctx context.Context, c *Conn, req Message, stdio IO) (int, error) {
	in := stdio.Stdin
	if !stdio.AttachStdin || in == nil {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return -1, err
		}
		defer null.Close()
		in = null
	}
	streams := []*os.File{in, stdio.Stdout, stdio.Stderr}
	give := make([]*os.File, 3)
	var outs []*relay
	for i, f := range streams {
		if f == nil {
			f, _ = os.OpenFile(os.DevNull, os.O_RDWR, 0)
			defer f.Close()
		}
		give[i] = f
		if term.IsTerminal(int(f.Fd())) {
			rl, err := newRelay(f, i == 0)
			if err != nil {
				return -1, err
			}
			give[i] = rl.give
			if i > 0 {
				outs = append(outs, rl)
			}
		}
	}
	if err := c.Send(req, give...); err != nil {
		return -1, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	for i, f := range give {
		if f != streams[i] {
			f.Close() // the sandbox holds its copy now
		}
	}
	code, err := waitExit(ctx, c, nil)
	for _, rl := range outs {
		select {
		case <-rl.done:
		case <-time.After(250 * time.Millisecond): // a background process inside still holds it
		}
	}
	return code, err
}

func runTTY(ctx context.Context, c *Conn, req Message, stdio IO) (int, error) {
	inFd := int(stdio.Stdin.Fd())
	isTerm := term.IsTerminal(inFd)
	if ws, err := unix.IoctlGetWinsize(inFd, unix.TIOCGWINSZ); err == nil {
		req.Rows, req.Cols = ws.Row, ws.Col
	} else if ws, err := unix.IoctlGetWinsize(int(stdio.Stdout.Fd()), unix.TIOCGWINSZ); err == nil {
		req.Rows, req.Cols = ws.Row, ws.Col
	}
	if err := c.Send(req); err != nil {
		return -1, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	m, fds, err := c.Recv()
	if err != nil {
		return -1, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	if m.Type == TypeError {
		closeAll(fds)
		return -1, errors.New(m.Message)
	}
	if m.Type != TypeStarted || len(fds) != 1 {
		closeAll(fds)
		return -1, fmt.Errorf("execproto: unexpected %q reply", m.Type)
	}
	unix.SetNonblock(fds[0], true)
	master := os.NewFile(uintptr(fds[0]), "pty")
	defer master.Close()

	if isTerm {
		old, err := term.MakeRaw(inFd)
		if err == nil {
			defer term.Restore(inFd, old)
		}
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			if ws, err := unix.IoctlGetWinsize(inFd, unix.TIOCGWINSZ); err == nil {
				unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
			}
		}
	}()
	if stdio.AttachStdin {
		go io.Copy(master, stdio.Stdin)
	}
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		io.Copy(stdio.Stdout, master)
	}()
	code, err := waitExit(ctx, c, &m)
	// Drain what the process wrote before it ended: the master reports EIO once every slave is
	// closed and the kernel has passed on what they wrote (a worker thread does that, late on a
	// busy machine). The deadline only bounds the wait when something left running in the
	// background keeps the terminal open.
	master.SetReadDeadline(time.Now().Add(time.Second))
	<-outDone
	return code, err
}

// waitExit forwards the caller's signals to the process and waits for its exit message.
func waitExit(ctx context.Context, c *Conn, started *Message) (int, error) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	type result struct {
		m   Message
		err error
	}
	res := make(chan result, 1)
	go func() {
		for {
			m, fds, err := c.Recv()
			closeAll(fds)
			if err != nil || m.Type == TypeExit || m.Type == TypeError {
				res <- result{m, err}
				return
			}
		}
	}()
	for {
		select {
		case s := <-sigs:
			c.Send(Message{Type: TypeSignal, Signal: int(s.(syscall.Signal))})
		case r := <-res:
			switch {
			case r.err != nil:
				return -1, fmt.Errorf("lost the connection to the sandbox: %w", r.err)
			case r.m.Type == TypeError:
				return -1, errors.New(r.m.Message)
			}
			return r.m.Code, nil
		case <-ctx.Done():
			c.Send(Message{Type: TypeSignal, Signal: int(syscall.SIGKILL)})
			return -1, ctx.Err()
		}
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		syscall.Close(fd)
	}
}
