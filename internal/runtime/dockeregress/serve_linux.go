package dockeregress

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/paddockhq/paddock/internal/egress"
)

func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// ServeMain is `paddock __egress-serve STATE_DIR`: the host side of one sandbox's egress, until
// SIGTERM. One per sandbox (a lock in the state folder).
func ServeMain(stateDir string) int {
	lock, err := os.OpenFile(lockPath(stateDir), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return 0 // another one serves
	}
	var cfg Config
	b, err := os.ReadFile(configPath(stateDir))
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "egress: reading %s: %v\n", configPath(stateDir), err)
		return 1
	}
	sock := filepath.Join(sockDir(stateDir), SocketName)
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintf(os.Stderr, "egress: %v\n", err)
		return 1
	}
	// The container's root may be any uid (user-namespace remapping): the folder is the fence.
	os.Chmod(sock, 0o666)
	os.WriteFile(pidPath(stateDir), []byte(strconv.Itoa(os.Getpid())), 0o600)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	// The sandbox removed (its state folder gone with the socket): nothing left to serve.
	go func() {
		for ctx.Err() == nil {
			time.Sleep(5 * time.Second)
			if _, err := os.Stat(sock); err != nil {
				cancel()
			}
		}
	}()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("sandbox", cfg.Sandbox)
	err = egress.ServeSandbox(ctx, ln, egress.Options{Home: cfg.Home, StateDir: stateDir, SandboxID: cfg.SandboxID,
		Sandbox: cfg.Sandbox, Preset: cfg.Preset, Logger: logger})
	os.Remove(sock)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "egress: %v\n", err)
		return 1
	}
	return 0
}
