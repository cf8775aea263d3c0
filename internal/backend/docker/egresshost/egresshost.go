// Package egresshost gives a sandbox on the Docker backend its only way out, paddock's egress
// proxy, while the container itself has no network: on the host a detached paddock process
// (`paddock __egress-serve STATE_DIR`) serves egress.ServeSandbox on a unix socket in the
// sandbox's state folder; that folder's socket is bind-mounted read-only into the container, where
// a relay (`paddock __relay`, paddock's own Linux binary mounted read-only, the container's main
// process under docker-init) listens on 127.0.0.1:PORT and forwards each connection to the socket. Connections that
// reach the host side came from inside the sandbox; the proxy dials out from the host.
//
// This package is linked into the paddock binary (the host side and the relay run from it); the
// Docker backend (paddock-oci) drives it.
package egresshost

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Paths inside the container.
const (
	// SocketDir is where the container sees the folder holding the proxy's socket.
	SocketDir = "/run/paddock/egress"
	// Binary is where the container sees paddock's Linux binary (the relay; also ssh's
	// ProxyCommand helper, egress.ConnectHelperPath).
	Binary = "/run/paddock/paddock"
)

// Config is what the host side serves.
type Config struct {
	Home      string `json:"home"`
	SandboxID string `json:"sandbox_id"`
	Sandbox   string `json:"sandbox"`
	Preset    string `json:"preset"`
	Upstream  string `json:"upstream_proxy,omitempty"`
	// Link, when set, carries the container's connections over the engine's API (link.go)
	// instead of the bind-mounted socket.
	Link *Link `json:"link,omitempty"`
}

// Layout of a sandbox's state folder.
func sockDir(stateDir string) string { return filepath.Join(stateDir, "egress-sock") }

// SockDir is the host folder holding the proxy's socket (bind-mounted at SocketDir).
func SockDir(stateDir string) string { return sockDir(stateDir) }

// SocketName is the socket's name in SockDir.
const SocketName = "proxy.sock"

func configPath(stateDir string) string { return filepath.Join(stateDir, "egress-serve.json") }
func lockPath(stateDir string) string   { return filepath.Join(stateDir, "egress-serve.lock") }
func pidPath(stateDir string) string    { return filepath.Join(stateDir, "egress-serve.pid") }
func logPath(stateDir string) string    { return filepath.Join(stateDir, "egress-serve.log") }

// BinaryCopy is the sandbox's own copy of paddock's binary (bind-mounted at Binary): a stable
// source for the container's mount, whatever happens to the installed binary.
func BinaryCopy(stateDir string) string { return filepath.Join(stateDir, "egress-bin", "paddock") }

// CopyBinary refreshes BinaryCopy from the engine binary when it differs.
func CopyBinary(engine, stateDir string) error {
	dst := BinaryCopy(stateDir)
	src, err := os.Stat(engine)
	if err != nil {
		return err
	}
	if st, err := os.Stat(dst); err == nil && st.Size() == src.Size() && st.ModTime().Equal(src.ModTime()) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(engine)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	os.Chtimes(tmp, src.ModTime(), src.ModTime())
	return os.Rename(tmp, dst)
}

// Running reports whether the sandbox's host side is serving.
func Running(stateDir string) bool {
	c, err := net.DialTimeout("unix", filepath.Join(sockDir(stateDir), SocketName), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// StartServer starts the host side (engine is paddock's binary) unless it runs, and waits until
// it accepts connections. The server's environment is this process's (PADDOCK_EGRESS_HOSTS and
// the like apply).
func StartServer(ctx context.Context, engine, stateDir string, cfg Config) error {
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(configPath(stateDir), b, 0o600); err != nil {
		return err
	}
	if Running(stateDir) {
		return nil
	}
	// A host side that was killed left its record of the link behind: the new one must link
	// before anyone counts on it.
	os.Remove(linkedPath(stateDir))
	if err := os.MkdirAll(sockDir(stateDir), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(logPath(stateDir), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(engine, "__egress-serve", stateDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = detached()
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the egress proxy: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if Running(stateDir) {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the egress proxy exited (%v): %s", err, lastLine(logPath(stateDir)))
		case <-ctx.Done():
			cmd.Process.Kill()
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	cmd.Process.Kill()
	return fmt.Errorf("the egress proxy did not start within 10s: %s", lastLine(logPath(stateDir)))
}

func lastLine(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// StopServer ends the host side, if it runs.
func StopServer(stateDir string) {
	b, err := os.ReadFile(pidPath(stateDir))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || !Running(stateDir) {
		return
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return
	}
	terminate(p)
	for i := 0; i < 200 && Running(stateDir); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	os.Remove(pidPath(stateDir))
}

// RelayMain is `paddock __relay ADDR SOCKET` inside the container: it listens on ADDR, says
// "ready" on stdout (then closes it), and forwards every connection to the unix socket.
//
// `paddock __relay --link ADDR SOCKET` is the relay of the link mode (see link.go): SOCKET is
// its own socket, which the host side's link process joins.
func RelayMain(args []string) int {
	if len(args) == 3 && args[0] == "--link" {
		return relayLinked(args[1], args[2])
	}
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: paddock __relay [--link] ADDR SOCKET")
		return 2
	}
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	fmt.Println("ready")
	os.Stdout.Close()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go relay(c, args[1])
	}
}

func relay(c net.Conn, sock string) {
	defer c.Close()
	u, err := net.Dial("unix", sock)
	if err != nil {
		return // the proxy is gone: no way out
	}
	defer u.Close()
	pipe(c, u)
}

// WaitReady reads the relay's first line: "ready", or its error.
func WaitReady(r io.Reader) error {
	line, err := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "ready" {
		return nil
	}
	if line == "" && err != nil {
		return fmt.Errorf("the relay ended: %v", err)
	}
	return errors.New(strings.TrimPrefix(line, "error: "))
}

// LastLog is the last line the host side logged.
func LastLog(stateDir string) string { return lastLine(logPath(stateDir)) }
