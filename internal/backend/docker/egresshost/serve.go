package egresshost

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

	"github.com/paddockhq/paddock/internal/batchsched"
	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/flock"
)

// ServeMain is `paddock __egress-serve STATE_DIR`: the host side of one sandbox's egress, until
// SIGTERM. One per sandbox (a lock in the state folder).
func ServeMain(stateDir string, linker Linker) int {
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	if err := batchsched.Process(); err != nil {
		slog.Warn("batch scheduling", "err", err)
	}
	lock, err := os.OpenFile(lockPath(stateDir), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := flock.Try(lock); err != nil {
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
	p, err := egress.New(egress.Options{Home: cfg.Home, StateDir: stateDir, SandboxID: cfg.SandboxID,
		Sandbox: cfg.Sandbox, Preset: cfg.Preset, Logger: logger, Upstream: cfg.Upstream})
	if err != nil {
		os.Remove(sock)
		fmt.Fprintf(os.Stderr, "egress: %v\n", err)
		return 1
	}
	defer p.Close()
	if cfg.Link != nil {
		// The container's connections come over the engine's API; the socket only tells the
		// CLI that this side runs.
		go p.Serve(ctx, ln)
		err = serveLinks(ctx, p, stateDir, *cfg.Link, linker, logger)
	} else {
		err = p.Serve(ctx, ln)
	}
	os.Remove(sock)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "egress: %v\n", err)
		return 1
	}
	return 0
}
