package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"golang.org/x/term"

	"github.com/paddockhq/paddock/internal/backend"
)

// Env is the environment every process in a Docker sandbox starts with: the image's, then
// paddock's (PATH and LANG only where the image sets none), the git identity, the agent's, then
// the sandbox's -e.
//
// A root process gets HOME=/root (the home volume); another user's HOME, USER and LOGNAME come
// from the container's /etc/passwd, as Docker sets them.
func Env(sb *backend.Sandbox, imageEnv []string, root bool) []string {
	env := backend.ImageEnv(imageEnv)
	if root {
		env = append(env, "HOME="+HomeDir, "USER=root", "LOGNAME=root")
	}
	env = append(env, "HOSTNAME="+sb.Spec.Hostname, "PADDOCK_SANDBOX="+sb.Name, "container=paddock")
	env = backend.WithAgentEnv(sb.Spec, append(env, backend.GitEnv(sb.Spec)...))
	// The workspace keeps its host owner, which the container's users are not: git would refuse
	// it as "dubious ownership". Everything in the container is the user's own.
	env = append(env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*")
	env = append(env, egressEnv(sb)...)
	return append(env, sb.Spec.Env...)
}

// execOptions is how the engine runs req in sb: its user (root by default) and environment.
func execOptions(sb *backend.Sandbox, req backend.ExecRequest) container.ExecOptions {
	var imgEnv []string
	if sb.Spec.Image != nil {
		imgEnv = sb.Spec.Image.Env
	}
	if sb.Spec.GitName == "" && sb.Spec.GitEmail == "" {
		var id [2]string
		if b, err := os.ReadFile(filepath.Join(sb.Dir, identityFile)); err == nil && json.Unmarshal(b, &id) == nil {
			sp := *sb
			sp.Spec.GitName, sp.Spec.GitEmail = id[0], id[1]
			sb = &sp
		}
	}
	user := req.User
	if user == "" {
		user = "0:0"
	}
	return container.ExecOptions{
		User: user, Tty: req.TTY, AttachStdin: req.Stdin, AttachStdout: true, AttachStderr: !req.TTY,
		Env: append(Env(sb, imgEnv, IsRoot(user)), req.Env...), WorkingDir: req.Dir, Cmd: req.Argv,
	}
}

// Exec implements backend.Backend through the Engine API: exec create, a hijacked attach for the
// streams (a TTY of the caller's size when asked for), then the exit code from exec inspect.
func (b *Backend) Exec(ctx context.Context, sb *backend.Sandbox, req backend.ExecRequest, stdio backend.ExecIO) (int, error) {
	c, err := b.client(ctx)
	if err != nil {
		return -1, err
	}
	opts := execOptions(sb, req)
	// Signals without a TTY reach the process through its pid on an engine on this host; on
	// one elsewhere through a mark in its environment (see signal).
	local := b.recordedLocal(sb, c)
	mark := ""
	if !req.TTY && !local {
		mark = execMark()
		opts.Env = append(opts.Env, execMarkEnv+"="+mark)
	}
	var size *[2]uint
	if req.TTY {
		if h, w, ok := termSize(stdio); ok {
			size = &[2]uint{h, w}
		}
	}
	cr, err := c.ContainerExecCreate(ctx, ContainerName(sb), opts)
	if err != nil {
		if client.IsErrNotFound(err) || strings.Contains(err.Error(), "is not running") {
			return -1, fmt.Errorf("%w: %s", backend.ErrNotRunning, sb.Name)
		}
		return -1, fmt.Errorf("exec in sandbox %s: %w", sb.Name, err)
	}
	// Ctrl-C and friends without a TTY (with one they are keys on the terminal): the API cannot
	// signal an exec's process, so paddock sends the signal with `kill` inside the sandbox, to
	// the process's pid there; where it cannot, it ends the exec by closing its streams (as
	// `docker exec` does). Caught from before the process starts: a signal that arrives once its
	// first output is shown must reach it, not end paddock.
	sigs := make(chan os.Signal, 4)
	if !req.TTY {
		signal.Notify(sigs, interruptSignals...)
		defer signal.Stop(sigs)
	}
	hj, err := c.ContainerExecAttach(ctx, cr.ID, container.ExecAttachOptions{Tty: req.TTY, ConsoleSize: size})
	if err != nil {
		return -1, fmt.Errorf("exec in sandbox %s: %w", sb.Name, err)
	}
	defer hj.Close()

	if req.TTY {
		if stdio.Stdin != nil && term.IsTerminal(int(stdio.Stdin.Fd())) {
			if old, err := term.MakeRaw(int(stdio.Stdin.Fd())); err == nil {
				defer term.Restore(int(stdio.Stdin.Fd()), old)
			}
		}
		if size != nil {
			// Engines before API 1.42 ignore ConsoleSize, and a resize fails until the process
			// exists: retried briefly, as the docker CLI does.
			go func() {
				for i := 0; i < 20; i++ {
					err := c.ContainerExecResize(ctx, cr.ID, container.ResizeOptions{Height: size[0], Width: size[1]})
					if err == nil {
						return
					}
					time.Sleep(time.Duration(5*(i+1)) * time.Millisecond)
				}
			}()
		}
		stopWinch := onResize(func() {
			if h, w, ok := termSize(stdio); ok {
				c.ContainerExecResize(context.Background(), cr.ID, container.ResizeOptions{Height: h, Width: w})
			}
		})
		defer stopWinch()
	}
	if req.Stdin && stdio.Stdin != nil {
		go func() {
			io.Copy(hj.Conn, stdio.Stdin)
			hj.CloseWrite()
		}()
	}
	// When the process cannot start, the engine writes its reason to the output stream: held
	// back, and turned into paddock's error, if the exec never got a process.
	closed := new(atomic.Bool)
	guard := &startGuard{w: outWriter{stdio.Stdout, closed}}
	outDone := make(chan error, 1)
	go func() {
		var err error
		if req.TTY {
			_, err = io.Copy(guard, hj.Reader)
		} else {
			_, err = stdcopy.StdCopy(guard, outWriter{stdio.Stderr, closed}, hj.Reader)
		}
		outDone <- err
	}()
wait:
	for {
		select {
		case <-outDone:
			if closed.Load() {
				// Whoever reads the output has gone (a closed pipe): the process would die of
				// SIGPIPE at its next write, as it does on the native backend; here the engine
				// keeps reading it, so it is killed, with what it started.
				kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				b.signal(kctx, c, sb, cr.ID, local, mark, 9, true)
				cancel()
				return 128 + int(syscall.SIGPIPE), nil
			}
			break wait
		case <-ctx.Done():
			// Closing the streams does not end the process: it is killed, with what it started.
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			b.signal(kctx, c, sb, cr.ID, local, mark, 9, true)
			cancel()
			hj.Close()
			return -1, ctx.Err()
		case s := <-sigs:
			if err := b.signal(ctx, c, sb, cr.ID, local, mark, signalNumber(s), false); err != nil {
				hj.Close()
				return 128 + signalNumber(s), nil
			}
		}
	}
	// The stream ends a moment before the engine records the exit code.
	for i := 0; ; i++ {
		ins, err := c.ContainerExecInspect(ctx, cr.ID)
		if err != nil {
			return -1, fmt.Errorf("exec in sandbox %s: %w", sb.Name, err)
		}
		if !ins.Running {
			if guard.held != nil {
				if ins.Pid == 0 && ins.ExitCode >= 126 {
					return startError(string(guard.held), req)
				}
				stdio.Stdout.Write(guard.held)
			}
			return ins.ExitCode, nil
		}
		if i > 2000 {
			return -1, errors.New("the Docker engine did not report the exit code")
		}
		time.Sleep(time.Millisecond * time.Duration(min(1+i, 20)))
	}
}

// outWriter notes that writing the output failed: its reader has gone.
type outWriter struct {
	w      io.Writer
	closed *atomic.Bool
}

func (o outWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil {
		o.closed.Store(true)
	}
	return n, err
}

// startGuard passes output through, except output that begins like the engine's report of a
// process that could not start, which it holds.
type startGuard struct {
	w       io.Writer
	started bool
	held    []byte
}

func (g *startGuard) Write(p []byte) (int, error) {
	if !g.started {
		g.started = true
		if bytes.HasPrefix(p, []byte("OCI runtime")) || bytes.HasPrefix(p, []byte("unable to find user")) {
			g.held = append([]byte{}, p...)
			return len(p), nil
		}
	}
	if g.held != nil {
		g.held = append(g.held, p...)
		return len(p), nil
	}
	return g.w.Write(p)
}

// startError turns the engine's reason into paddock's words (the CLI maps them to 126 and 127).
func startError(msg string, req backend.ExecRequest) (int, error) {
	switch {
	case strings.Contains(msg, "unable to find user"), strings.Contains(msg, "no matching entries in passwd"):
		return -1, fmt.Errorf("user %q does not exist in the sandbox", req.User)
	case strings.Contains(msg, "chdir"):
		return -1, fmt.Errorf("working folder %s does not exist in the sandbox", req.Dir)
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return -1, fmt.Errorf("%s: command not found in the sandbox", req.Argv[0])
	case strings.Contains(msg, "permission denied"):
		return -1, fmt.Errorf("%s: cannot execute in the sandbox: permission denied", req.Argv[0])
	}
	return -1, fmt.Errorf("%s: cannot execute in the sandbox: %s", req.Argv[0], strings.TrimSpace(msg))
}

func termSize(stdio backend.ExecIO) (uint, uint, bool) {
	for _, f := range []*os.File{stdio.Stdin, stdio.Stdout} {
		if f == nil {
			continue
		}
		if w, h, err := term.GetSize(int(f.Fd())); err == nil {
			return uint(h), uint(w), true
		}
	}
	return 0, 0, false
}

// execMarkEnv marks the processes of one exec without a TTY on an engine elsewhere.
const execMarkEnv = "PADDOCK_EXEC_ID"

func execMark() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// signal sends signal n to an exec's process from inside its sandbox. On an engine on this host
// it finds the process's pid inside from the engine's (/proc); on one elsewhere (a VM, another
// host) it signals every process in the container whose environment carries the exec's mark:
// the process and what it started, as Ctrl-C on a terminal reaches its foreground group. With
// group, on this host, the process's group gets it (the engine makes each exec's process the
// leader of a session of its own), so what the process started gets it too.
func (b *Backend) signal(ctx context.Context, c *client.Client, sb *backend.Sandbox, execID string, local bool, mark string, n int, group bool) error {
	if !local {
		if mark == "" {
			return fmt.Errorf("no mark to find the process by")
		}
		script := `for e in /proc/[0-9]*/environ; do if tr '\0' '\n' <"$e" 2>/dev/null | grep -qx "$0"; then p=${e%/environ}; kill -` +
			strconv.Itoa(n) + ` "${p#/proc/}"; fi; done`
		kr, err := c.ContainerExecCreate(ctx, ContainerName(sb), container.ExecOptions{User: "0:0",
			Cmd: []string{"/bin/sh", "-c", script, execMarkEnv + "=" + mark}})
		if err != nil {
			return err
		}
		return c.ContainerExecStart(ctx, kr.ID, container.ExecStartOptions{Detach: true})
	}
	// The engine records an exec's pid a moment after the process has started (and may have
	// written output): wait for it briefly.
	var ins container.ExecInspect
	for i := 0; ; i++ {
		var err error
		if ins, err = c.ContainerExecInspect(ctx, execID); err != nil {
			return fmt.Errorf("no process to signal: %w", err)
		}
		if ins.Pid > 0 {
			break
		}
		if i >= 50 {
			return fmt.Errorf("no process to signal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid, err := pidInside(ins.Pid)
	if err != nil {
		return err
	}
	script := "kill -" + strconv.Itoa(n) + " " + strconv.Itoa(pid)
	if group {
		script = "kill -" + strconv.Itoa(n) + " -" + strconv.Itoa(pid) + " 2>/dev/null || " + script
	}
	kr, err := c.ContainerExecCreate(ctx, ContainerName(sb), container.ExecOptions{User: "0:0",
		Cmd: []string{"/bin/sh", "-c", script}})
	if err != nil {
		return err
	}
	return c.ContainerExecStart(ctx, kr.ID, container.ExecStartOptions{Detach: true})
}

// IsRoot reports whether an exec user ("", "root", "0", "0:0", "root:root"...) is root.
func IsRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "" || u == "0" || u == "root"
}
