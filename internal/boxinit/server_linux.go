package boxinit

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/execproto"
)

type server struct {
	cfg    *Config
	forker *forker

	mu       sync.Mutex
	waiters  map[int]chan syscall.WaitStatus
	stopping bool
}

func newServer(cfg *Config, fk *forker) *server {
	return &server{cfg: cfg, forker: fk, waiters: map[int]chan syscall.WaitStatus{}}
}

// reap collects every child that ends, ours and orphans alike, and hands statuses to waiters.
func (s *server) reap() {
	ch := make(chan os.Signal, 32)
	signal.Notify(ch, syscall.SIGCHLD)
	for range ch {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			// Orphans are simply reaped. Our own children cannot be missed: start holds the lock
			// from fork to registration, so their status waits here until they are registered.
			s.mu.Lock()
			if w, ok := s.waiters[pid]; ok {
				w <- ws
				delete(s.waiters, pid)
			}
			s.mu.Unlock()
		}
	}
}

// start forks a process and registers for its status under the lock, so the reaper cannot lose it.
func (s *server) start(argv0 string, argv []string, attr *syscall.ProcAttr) (int, chan syscall.WaitStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return 0, nil, errors.New("the sandbox is stopping")
	}
	pid, err := s.forker.forkExec(argv0, argv, attr)
	if err != nil {
		return 0, nil, err
	}
	w := make(chan syscall.WaitStatus, 1)
	s.waiters[pid] = w
	return pid, w, nil
}

func (s *server) accept(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go s.handle(execproto.NewConn(c))
	}
}

func (s *server) handle(c *execproto.Conn) {
	defer c.Close()
	req, fds, err := c.Recv()
	if err != nil {
		closeFDs(fds)
		return
	}
	if req.Type == execproto.TypeSockets {
		closeFDs(fds)
		sendSockets(c, req)
		return
	}
	if req.Type != execproto.TypeExec || len(req.Argv) == 0 {
		closeFDs(fds)
		c.Send(execproto.Message{Type: execproto.TypeError, Message: "bad exec request"})
		return
	}
	pid, wait, err := s.spawn(c, req, fds)
	closeFDs(fds)
	if err != nil {
		c.Send(execproto.Message{Type: execproto.TypeError, Message: err.Error()})
		return
	}
	// Messages from the caller: signals. A caller that goes away before the process ends hangs
	// it up, as closing a terminal would.
	exited := make(chan struct{})
	go func() {
		for {
			m, extra, err := c.Recv()
			closeFDs(extra)
			if err != nil {
				select {
				case <-exited:
				default:
					unix.Kill(-pid, unix.SIGHUP)
					unix.Kill(-pid, unix.SIGCONT)
				}
				return
			}
			if m.Type == execproto.TypeSignal && m.Signal > 0 {
				unix.Kill(-pid, syscall.Signal(m.Signal))
			}
		}
	}()
	ws := <-wait
	close(exited)
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	c.Send(execproto.Message{Type: execproto.TypeExit, Code: code})
}

// spawn starts the requested process; on a TTY it sends the PTY master back to the caller.
func (s *server) spawn(c *execproto.Conn, req execproto.Message, fds []int) (int, chan syscall.WaitStatus, error) {
	u, err := lookupUser(req.User)
	if err != nil {
		return 0, nil, err
	}
	env := mergeEnv(s.cfg.Env, u.env(), req.Env)
	dir := req.Dir
	if dir == "" {
		dir = s.cfg.Workdir
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return 0, nil, fmt.Errorf("working folder %s does not exist in the sandbox", dir)
	}
	argv0, err := lookPath(req.Argv[0], getenv(env, "PATH"), dir)
	if err != nil {
		return 0, nil, err
	}
	sys := &syscall.SysProcAttr{Setsid: true}
	if u.uid != 0 || u.gid != 0 {
		sys.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}
	}
	attr := &syscall.ProcAttr{Dir: dir, Env: env, Sys: sys}
	if !req.TTY {
		if len(fds) != 3 {
			return 0, nil, errors.New("exec request without its three streams")
		}
		attr.Files = []uintptr{uintptr(fds[0]), uintptr(fds[1]), uintptr(fds[2])}
		pid, w, err := s.start(argv0, req.Argv, attr)
		if err != nil {
			return 0, nil, startError(req.Argv[0], err)
		}
		c.Send(execproto.Message{Type: execproto.TypeStarted, Pid: pid})
		return pid, w, nil
	}
	master, slave, err := pty.Open()
	if err != nil {
		return 0, nil, fmt.Errorf("allocating a terminal: %w", err)
	}
	defer master.Close()
	defer slave.Close()
	if req.Rows > 0 && req.Cols > 0 {
		pty.Setsize(master, &pty.Winsize{Rows: req.Rows, Cols: req.Cols})
	}
	if u.uid != 0 {
		os.Chown(slave.Name(), int(u.uid), -1)
	}
	attr.Files = []uintptr{slave.Fd(), slave.Fd(), slave.Fd()}
	sys.Setctty = true
	sys.Ctty = 0
	pid, w, err := s.start(argv0, req.Argv, attr)
	if err != nil {
		return 0, nil, startError(req.Argv[0], err)
	}
	if err := c.Send(execproto.Message{Type: execproto.TypeStarted, Pid: pid}, master); err != nil {
		unix.Kill(-pid, unix.SIGHUP)
	}
	return pid, w, nil
}

// stop ends every process in the sandbox: SIGTERM, a grace period, then the init exits and the
// kernel kills whatever is left in the PID namespace.
func (s *server) stop() {
	stopOnce.Do(func() {
		s.mu.Lock()
		s.stopping = true
		s.mu.Unlock()
		unix.Kill(-1, unix.SIGTERM)
		unix.Kill(-1, unix.SIGCONT)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if !anyProcessLeft() {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		os.Exit(0)
	})
}

// anyProcessLeft reports whether the PID namespace holds anything but the init.
func anyProcessLeft() bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.Name() != "1" && e.Name()[0] >= '0' && e.Name()[0] <= '9' {
			// Zombies already reaped vanish; a zombie not yet reaped still counts briefly.
			if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
				if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "Z" {
					continue
				}
			}
			return true
		}
	}
	return false
}

func startError(name string, err error) error {
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENOEXEC) {
		return fmt.Errorf("%s: cannot execute in the sandbox: %w", name, err)
	}
	return fmt.Errorf("starting %s: %w", name, err)
}

func lookPath(file, path, dir string) (string, error) {
	if strings.Contains(file, "/") {
		p := file
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if isExecutable(p) {
			return p, nil
		}
		if st, err := os.Stat(p); err == nil {
			// There, but not a program (a shell says 126 too).
			why := "permission denied"
			if st.IsDir() {
				why = "is a folder"
			}
			return "", fmt.Errorf("%s: cannot execute in the sandbox: %s", file, why)
		}
		return "", fmt.Errorf("%s: no such executable in the sandbox", file)
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, file)
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found in the sandbox", file)
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

func getenv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// mergeEnv joins environment lists; later lists win.
func mergeEnv(lists ...[]string) []string {
	idx := map[string]int{}
	var out []string
	for _, l := range lists {
		for _, kv := range l {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[k]; ok {
				out[i] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}
