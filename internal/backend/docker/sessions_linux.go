package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/execproto"
	"github.com/paddockhq/paddock/internal/flock"
	"github.com/paddockhq/paddock/internal/memtrim"
	"github.com/paddockhq/paddock/internal/session"
)

// The host side of every running Docker sandbox of one PADDOCK_HOME is one process
// (SessionServeCommand HOME): it serves each sandbox's control socket (its sessions and
// published ports) while the sandbox's container runs, and ends when it serves none. One
// process, not one per sandbox: idle sessions then cost their scrollback, not a process each.

func homeOf(dir string) string      { return filepath.Dir(filepath.Dir(dir)) } // HOME/sandboxes/ID
func hostSock(home string) string   { return filepath.Join(home, "docker-host.sock") }
func hostLock(home string) string   { return filepath.Join(home, "docker-host.lock") }
func hostLog(home string) string    { return filepath.Join(home, "docker-host.log") }
func hostSandbox(dir string) string { return sessionSandbox(dir) }

const typeServe = "host-serve"

// EnsureSessions implements backend.SessionHost: the sandbox's host side answers (the home's
// host process is started when none runs, and told to serve the sandbox).
func (b *Backend) EnsureSessions(ctx context.Context, sb *backend.Sandbox) error {
	if answers(sb.Dir) {
		return nil
	}
	body, err := json.Marshal(sb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(hostSandbox(sb.Dir), body, 0o600); err != nil {
		return err
	}
	home := homeOf(sb.Dir)
	var last error
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); {
		if last = askServe(home, sb.Dir); last == nil {
			return nil
		}
		if err := startHost(home); err != nil {
			return fmt.Errorf("starting the host side of %s: %w", sb.Name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("the host side of %s did not start: %v (see %s)", sb.Name, last, hostLog(home))
}

// askServe asks the home's host process to serve the sandbox at dir, and waits for its answer.
func askServe(home, dir string) error {
	c, err := execproto.Dial(hostSock(home))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(execproto.Message{Type: typeServe, Message: dir}); err != nil {
		return err
	}
	m, fds, err := c.Recv()
	for _, fd := range fds {
		syscall.Close(fd)
	}
	if err != nil {
		return err
	}
	if m.Type == execproto.TypeError {
		return errors.New(m.Message)
	}
	return nil
}

// startHost starts the home's host process unless one holds its lock.
func startHost(home string) error {
	if flock.Held(hostLock(home)) {
		return nil // one runs (or is starting)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(hostLog(home), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(exe, SessionServeCommand, home)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/" // holds no folder of the caller's
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

func answers(dir string) bool {
	c, err := execproto.Dial(sessionSock(dir))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// SessionServeMain is SessionServeCommand: it serves the running Docker sandboxes of the
// PADDOCK_HOME args[0] that paddock asks it to, until none is left.
func SessionServeMain(args []string) int {
	if len(args) != 1 {
		return 2
	}
	home := args[0]
	f, err := os.OpenFile(hostLock(home), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		slog.Error("docker host", "err", err)
		return 1
	}
	defer f.Close()
	if err := flock.Try(f); err != nil {
		return 0 // another one serves
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := New().client(ctx)
	if err != nil {
		slog.Error("docker host", "err", err)
		return 1
	}
	os.Remove(hostSock(home))
	ln, err := session.Listen(hostSock(home))
	if err != nil {
		slog.Error("docker host", "err", err)
		return 1
	}
	h := &host{c: c, served: map[string]*served{}}
	defer func() {
		ln.Close()
		os.Remove(hostSock(home))
		h.mu.Lock()
		for dir := range h.served {
			h.dropLocked(dir)
		}
		h.mu.Unlock()
	}()
	go func() {
		for {
			uc, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			go func() {
				conn := execproto.NewConn(uc)
				defer conn.Close()
				m, fds, err := conn.Recv()
				for _, fd := range fds {
					syscall.Close(fd)
				}
				if err != nil || m.Type != typeServe {
					return
				}
				if err := h.serve(ctx, m.Message); err != nil {
					conn.Send(execproto.Message{Type: execproto.TypeError, Message: err.Error()})
					return
				}
				conn.Send(execproto.Message{Type: execproto.TypeExit})
			}()
		}
	}()
	memtrim.Keep(5 * time.Second)
	// Mostly idle, holding scrollbacks: a small heap headroom, and what is freed goes back.
	debug.SetGCPercent(25)
	idle := 0
	for n := 0; ; n++ { // each sandbox until its container stops; the process until it serves none
		time.Sleep(2 * time.Second)
		if n%5 == 4 {
			debug.FreeOSMemory()
		}
		// One question for all: which of paddock's containers run.
		running := map[string]bool{}
		list, err := c.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labelID))})
		if err != nil {
			continue // the engine does not answer now: its containers are what they were
		}
		for _, ct := range list {
			running[ct.Labels[labelID]] = ct.State == "running"
		}
		h.mu.Lock()
		var gone []string
		for dir, sv := range h.served {
			if !running[sv.sb.ID] {
				gone = append(gone, dir)
			}
		}
		for _, dir := range gone {
			h.dropLocked(dir)
		}
		h.mu.Unlock()
		h.mu.Lock()
		if len(h.served) == 0 {
			if idle++; idle >= 2 {
				// Nothing to serve: go, refusing new requests first (a request that came in
				// between makes its caller start another).
				ln.Close()
				os.Remove(hostSock(home))
				h.mu.Unlock()
				return 0
			}
		} else {
			idle = 0
		}
		h.mu.Unlock()
	}
}

// host is the home's host process: the sandboxes it serves, by state folder.
type host struct {
	c      *client.Client
	mu     sync.Mutex
	served map[string]*served
}

type served struct {
	sb     *backend.Sandbox
	cancel context.CancelFunc
	ports  interface{ Close() }
}

// serve starts serving the sandbox at dir (nothing when it is served already).
func (h *host) serve(ctx context.Context, dir string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.served[dir]; ok && answers(dir) {
		return nil
	}
	h.dropLocked(dir)
	var sb backend.Sandbox
	body, err := os.ReadFile(hostSandbox(dir))
	if err == nil {
		err = json.Unmarshal(body, &sb)
	}
	if err != nil {
		return err
	}
	if filepath.Clean(sb.Dir) != filepath.Clean(dir) {
		return fmt.Errorf("%s describes another sandbox", hostSandbox(dir))
	}
	sctx, cancel := context.WithCancel(ctx)
	ports, err := hostPorts(sctx, h.c, &sb)
	if err != nil {
		cancel()
		return err
	}
	ln, err := session.Listen(sessionSock(dir))
	if err != nil {
		cancel()
		ports.Close()
		return err
	}
	other := func(m execproto.Message) execproto.Message {
		if m.Type == typeHostStop {
			go h.drop(dir)
			return execproto.Message{Type: execproto.TypeExit}
		}
		return ports.Handle(m)
	}
	os.Remove(sessionState(dir))
	go session.NewServer(dockerSpawner(h.c, &sb), sessionState(dir)).ServeWith(sctx, ln, other)
	h.served[dir] = &served{sb: &sb, cancel: cancel, ports: ports}
	return nil
}

func (h *host) drop(dir string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(dir)
}

// dropLocked stops serving the sandbox at dir: its socket goes first, then its sessions and ports.
func (h *host) dropLocked(dir string) {
	sv, ok := h.served[dir]
	if !ok {
		return
	}
	delete(h.served, dir)
	os.Remove(sessionSock(dir))
	os.Remove(sessionState(dir))
	sv.cancel()
	sv.ports.Close()
}

// typeHostStop asks the host side to stop serving a sandbox (it stops).
const typeHostStop = "host-stop"

// stopHost ends the sandbox's host side, if it is served, and waits for its socket to go.
func stopHost(dir string) {
	c, err := execproto.Dial(sessionSock(dir))
	if err != nil {
		return
	}
	c.Send(execproto.Message{Type: typeHostStop})
	c.Recv()
	c.Close()
	for range 200 {
		if _, err := os.Lstat(sessionSock(dir)); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dockerSpawner(c *client.Client, sb *backend.Sandbox) session.Spawner {
	return func(ctx context.Context, r session.Request) (session.Term, error) {
		opts := execOptions(sb, backend.ExecRequest{Argv: r.Argv, Env: r.Env, Dir: r.Dir, User: r.User, TTY: true, Stdin: true})
		size := &[2]uint{uint(r.Rows), uint(r.Cols)}
		opts.ConsoleSize = size
		cr, err := c.ContainerExecCreate(ctx, ContainerName(sb), opts)
		if err != nil {
			return nil, fmt.Errorf("starting the session in %s: %w", sb.Name, err)
		}
		hj, err := c.ContainerExecAttach(ctx, cr.ID, container.ExecAttachOptions{Tty: true, ConsoleSize: size})
		if err != nil {
			return nil, fmt.Errorf("starting the session in %s: %w", sb.Name, err)
		}
		return &dockerTerm{c: c, id: cr.ID, hj: hj, eof: make(chan struct{})}, nil
	}
}

// dockerTerm is a session's exec: its hijacked stream is the terminal's master side.
type dockerTerm struct {
	c    *client.Client
	id   string
	hj   types.HijackedResponse
	once sync.Once
	eof  chan struct{}
}

func (t *dockerTerm) Read(p []byte) (int, error) {
	n, err := t.hj.Reader.Read(p)
	if err != nil {
		t.once.Do(func() { close(t.eof) })
	}
	return n, err
}

func (t *dockerTerm) Write(p []byte) (int, error) { return t.hj.Conn.Write(p) }

func (t *dockerTerm) Resize(rows, cols uint16) error {
	return t.c.ContainerExecResize(context.Background(), t.id, container.ResizeOptions{Height: uint(rows), Width: uint(cols)})
}

// Wait waits for the stream to end, then for the engine to record the exit code.
func (t *dockerTerm) Wait() (int, error) {
	<-t.eof
	for range 500 {
		ins, err := t.c.ContainerExecInspect(context.Background(), t.id)
		if err != nil {
			return -1, err
		}
		if !ins.Running {
			return ins.ExitCode, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return -1, errors.New("the engine did not report the session's end")
}

func (t *dockerTerm) Close() error {
	t.hj.Close()
	return nil
}
