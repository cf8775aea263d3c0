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
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/execproto"
	"github.com/paddockhq/paddock/internal/flock"
	"github.com/paddockhq/paddock/internal/session"
)

// EnsureSessions implements backend.SessionHost: the sandbox's session host runs (started
// when none answers).
func (b *Backend) EnsureSessions(ctx context.Context, sb *backend.Sandbox) error {
	if answers(sb.Dir) {
		return nil
	}
	body, err := json.Marshal(sb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(sessionSandbox(sb.Dir), body, 0o600); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(sb.Dir, "sessions.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(exe, SessionServeCommand, sb.Dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the session host of %s: %w", sb.Name, err)
	}
	go cmd.Wait()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if answers(sb.Dir) {
			return nil
		}
	}
	return fmt.Errorf("the session host of %s did not start (see %s)", sb.Name, filepath.Join(sb.Dir, "sessions.log"))
}

func answers(dir string) bool {
	c, err := execproto.Dial(sessionSock(dir))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// SessionServeMain is SessionServeCommand: it serves the sessions of the sandbox whose state
// folder is args[0] until its container stops.
func SessionServeMain(args []string) int {
	if len(args) != 1 {
		return 2
	}
	dir := args[0]
	f, err := os.OpenFile(filepath.Join(dir, "sessions.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		slog.Error("sessions", "err", err)
		return 1
	}
	defer f.Close()
	if err := flock.Try(f); err != nil {
		return 0 // another one serves
	}
	var sb backend.Sandbox
	body, err := os.ReadFile(sessionSandbox(dir))
	if err == nil {
		err = json.Unmarshal(body, &sb)
	}
	if err != nil {
		slog.Error("sessions", "err", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := New().client(ctx)
	if err != nil {
		slog.Error("sessions", "err", err)
		return 1
	}
	ln, err := session.Listen(sessionSock(dir))
	if err != nil {
		slog.Error("sessions", "err", err)
		return 1
	}
	defer os.Remove(sessionSock(dir))
	defer os.Remove(sessionState(dir))
	ports, err := hostPorts(ctx, c, &sb)
	if err != nil {
		slog.Error("ports", "err", err)
		return 1
	}
	defer ports.Close()
	stop := make(chan struct{})
	var once sync.Once
	other := func(m execproto.Message) execproto.Message {
		if m.Type == typeHostStop {
			once.Do(func() { close(stop) })
			return execproto.Message{Type: execproto.TypeExit}
		}
		return ports.Handle(m)
	}
	go session.NewServer(dockerSpawner(c, &sb), sessionState(dir)).ServeWith(ctx, ln, other)
	for { // until the container stops, or paddock stops it
		select {
		case <-stop:
			return 0
		case <-time.After(2 * time.Second):
		}
		ins, err := c.ContainerInspect(ctx, ContainerName(&sb))
		if err != nil || ins.State == nil || !ins.State.Running {
			return 0
		}
	}
}

// typeHostStop asks the host side to end (the sandbox stops).
const typeHostStop = "host-stop"

// stopHost ends the sandbox's host side, if one runs, and waits for it to go.
func stopHost(dir string) {
	c, err := execproto.Dial(sessionSock(dir))
	if err != nil {
		return
	}
	c.Send(execproto.Message{Type: typeHostStop})
	c.Recv()
	c.Close()
	f, err := os.OpenFile(filepath.Join(dir, "sessions.lock"), os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	for range 200 { // its lock goes with it
		if flock.Try(f) == nil {
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
