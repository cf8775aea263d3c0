package sandbox

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/config"
	"github.com/paddockhq/paddock/internal/image"
	"github.com/paddockhq/paddock/internal/store"
	"github.com/paddockhq/paddock/internal/volume"
)

// BackendNames are the backends paddock has.
var BackendNames = []string{"native", "docker"}

// Settings are what a front end decides for a manager.
type Settings struct {
	// Backend is the backend of new sandboxes asked for on the command line ("" for
	// PADDOCK_BACKEND, else the config file's, else the platform's).
	Backend string
	// UnsafeNoLimits starts sandboxes even where the host cannot limit their memory and CPU
	// (also PADDOCK_UNSAFE_NO_LIMITS=1 or the config file's unsafe_no_limits).
	UnsafeNoLimits bool
	// Progress receives status lines and warnings (nil: none); ProgressTTY: it is a terminal.
	Progress    io.Writer
	ProgressTTY bool
	// Backends makes the backends this binary has, given the configuration; the binary decides
	// (cmd/internal/wire), so that the manager never names one.
	Backends func(cfg config.Config) map[string]Backend
	// Fetcher fills the template cache from registries and archives (the binary's).
	Fetcher image.Fetcher
}

// Open opens paddock's state (PADDOCK_HOME), its configuration and the backends, and returns the
// manager.
func Open(s Settings) (*Manager, error) {
	home, err := store.DefaultHome()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(home)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load()
	if err != nil {
		return nil, fmt.Errorf("%w (fix or remove it)", err)
	}
	name, chosen, err := chooseBackend(s.Backend, cfg)
	if err != nil {
		return nil, err
	}
	backends := map[string]Backend{}
	if s.Backends != nil {
		backends = s.Backends(cfg)
	}
	m := &Manager{Store: st, Backend: backends[name], Backends: backends, BackendChosen: chosen,
		UnsafeNoLimits: s.UnsafeNoLimits || os.Getenv("PADDOCK_UNSAFE_NO_LIMITS") == "1" || cfg.UnsafeNoLimits,
		Progress:       s.Progress, Fetcher: s.Fetcher, DiskDefault: cfg.Disk}
	if m.Backend == nil {
		m.Backend = missingBackend(name)
	}
	m.Agents = &AgentSupport{
		Installer: &agent.Installer{Root: filepath.Join(home, "agents"), Progress: s.Progress, TTY: s.ProgressTTY},
		Volumes:   &volume.Store{Root: filepath.Join(home, "volumes")},
		Warn:      func(msg string) { m.say("warning: " + msg) },
	}
	if err := m.wireInstaller(cfg); err != nil {
		return nil, err
	}
	return m, nil
}

// chooseBackend decides the backend of new sandboxes: flag, else PADDOCK_BACKEND, else the
// config file's backend, else the platform's (native on Linux, docker elsewhere). It reports
// whether one was asked for.
func chooseBackend(flag string, cfg config.Config) (string, bool, error) {
	name, from := flag, "--backend"
	if name == "" {
		name, from = os.Getenv("PADDOCK_BACKEND"), "PADDOCK_BACKEND"
	}
	if name == "" {
		name, from = cfg.Backend, cfg.Path+": backend"
	}
	if name == "" {
		if runtime.GOOS == "linux" {
			return "native", false, nil
		}
		return "docker", false, nil
	}
	if !slices.Contains(BackendNames, name) {
		return "", false, fmt.Errorf("%w: %s %q: use native or docker", ErrBadInput, from, name)
	}
	return name, true, nil
}

// wireInstaller gives the agent installer its install sandboxes (the manager's engine), the
// update interval (PADDOCK_AGENT_UPDATES, else agent_updates in the config file) and the
// background update.
func (m *Manager) wireInstaller(cfg config.Config) error {
	in := m.Agents.Installer
	in.Sandbox = m.InstallSandbox()
	in.AuthTokens = cfg.AgentNPMAuth == "true"
	every, from := os.Getenv("PADDOCK_AGENT_UPDATES"), "PADDOCK_AGENT_UPDATES"
	if every == "" {
		every, from = cfg.AgentUpdates, cfg.Path+": agent_updates"
	}
	switch every {
	case "":
	case "off", "never", "0":
		in.UpdateEvery = -1
	default:
		d, err := time.ParseDuration(every)
		if err != nil || d <= 0 {
			return fmt.Errorf("%w: %s %q: give a duration such as 24h or 12h, or off", ErrBadInput, from, every)
		}
		in.UpdateEvery = d
	}
	in.Background = func(name, backend string) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		dir := filepath.Join(in.Root, name, ".log")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		logf, err := os.OpenFile(filepath.Join(dir, "update.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer logf.Close()
		fmt.Fprintf(logf, "%s paddock agents update %s (background)\n", time.Now().UTC().Format(time.RFC3339), name)
		cmd := exec.Command(exe, "--backend", backend, "agents", "update", "--background", name)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = detached()
		if err := cmd.Start(); err != nil {
			return err
		}
		return cmd.Process.Release()
	}
	return nil
}
