package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/docker/egresshost"
	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/handover"
)

// caBundleTarget is where the container sees its CA bundle.
const caBundleTarget = egress.CABundlePath

// egressEnv points the sandbox's tools at the proxy.
func egressEnv(sb *backend.Sandbox) []string {
	if sb.Spec.Egress == nil {
		return nil
	}
	return egress.Env(sb.Spec.Egress.ProxyPort)
}

// caBundle is the sandbox's CA bundle (the host's roots and paddock's CA) in the socket mode.
func caBundle(sb *backend.Sandbox) string { return filepath.Join(sb.Dir, "egress", "ca-bundle.pem") }

// How the container reaches the proxy's host side (egresshost):
//   - socket: the proxy's socket, paddock's binary and the CA bundle are bind-mounted from the
//     sandbox's state folder. Needs the engine on this Linux host.
//   - link: paddock's binary and CA are copied into the container, and the connections travel
//     over `docker exec` streams through the engine's API. Works with any engine: Docker Desktop,
//     Colima, OrbStack, a remote one.
//
// PADDOCK_DOCKER_EGRESS=socket|link overrides the choice.
const (
	modeSocket = "socket"
	modeLink   = "link"
)

// ModeEnv overrides how the container reaches the proxy.
const ModeEnv = "PADDOCK_DOCKER_EGRESS"

// egressMode decides the mode for this engine: socket when the engine runs on this Linux host.
func (b *Backend) egressMode(ctx context.Context, c *client.Client) (string, error) {
	switch m := os.Getenv(ModeEnv); m {
	case modeSocket, modeLink:
		return m, nil
	case "":
	default:
		return "", fmt.Errorf("%w: %s=%q: use %s or %s", backend.ErrUnsupported, ModeEnv, m, modeSocket, modeLink)
	}
	local, err := b.engineLocal(ctx, c)
	if err != nil {
		return "", err
	}
	if !local {
		return modeLink, nil
	}
	return modeSocket, nil
}

// engineLocal reports whether the engine runs on this Linux host, so that its containers can
// mount this host's paths and sockets: a unix socket, the engine's host name is this one's,
// and it is not Docker Desktop (whose engine runs in a VM also on Linux).
func (b *Backend) engineLocal(ctx context.Context, c *client.Client) (bool, error) {
	if runtime.GOOS != "linux" || !strings.HasPrefix(c.DaemonHost(), "unix://") {
		return false, nil
	}
	info, err := b.info(ctx, c)
	if err != nil {
		return false, noEngine(c.DaemonHost(), err)
	}
	host, _ := os.Hostname()
	return info.Name == host && !strings.Contains(info.OperatingSystem, "Docker Desktop"), nil
}

// engineBinary is paddock's Linux binary, which runs inside the container (the relay, ssh's
// ProxyCommand) and, in the socket mode, serves the host side: PADDOCK_LINUX_BINARY, else (off
// Linux) paddock-linux-ARCH beside this executable, as release archives for macOS and Windows
// ship it, else the paddock beside it. arch is the engine's ("" for this host's).
func (b *Backend) engineBinary(arch string) (string, error) {
	if b.EngineBinary != "" {
		return b.EngineBinary, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	return linuxBinary(runtime.GOOS, arch, self, os.Getenv("PADDOCK_LINUX_BINARY"), handover.EnginePath)
}

// linuxBinary picks paddock's Linux binary on the platform goos for an engine of arch, this
// executable being self and env PADDOCK_LINUX_BINARY; sibling finds the paddock beside self.
func linuxBinary(goos, arch, self, env string, sibling func() (string, error)) (string, error) {
	if env != "" {
		return env, nil
	}
	if goos == "linux" {
		return sibling()
	}
	goarch := map[string]string{"x86_64": "amd64", "aarch64": "arm64"}[arch]
	if goarch == "" {
		goarch = arch
	}
	p := filepath.Join(filepath.Dir(self), "paddock-linux-"+goarch)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no %s beside %s (the engine runs Linux on %s): get it from paddock's release archive, or set PADDOCK_LINUX_BINARY to paddock's Linux build", filepath.Base(p), self, arch)
	}
	return p, nil
}

// serverBinary runs the host side in the link mode: this executable (it has the Docker client).
func (b *Backend) serverBinary() (string, error) {
	if b.ServerBinary != "" {
		return b.ServerBinary, nil
	}
	return os.Executable()
}

// checkLinuxBinary makes sure bin can run in the engine's containers: a Linux executable for
// the engine's architecture.
func checkLinuxBinary(bin, engineArch string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("%s is not a Linux executable (%v): set PADDOCK_LINUX_BINARY to paddock's Linux build for the engine (%s)", bin, err, engineArch)
	}
	defer f.Close()
	want := map[string]elf.Machine{"x86_64": elf.EM_X86_64, "amd64": elf.EM_X86_64, "aarch64": elf.EM_AARCH64, "arm64": elf.EM_AARCH64}
	if m, ok := want[engineArch]; ok && f.Machine != m {
		return fmt.Errorf("%s is built for %s, the engine runs %s: set PADDOCK_LINUX_BINARY to paddock's Linux build for %s", bin, f.Machine, engineArch, engineArch)
	}
	return nil
}

// startEgress checks that the proxy can be given to the container, and starts its host side.
//
// The checks and files come first; the host side starts in the background while the container
// starts, and wait returns its outcome (the relay must not be used before it).
//
// running is the sandbox's container when it runs already: its relay decides the mode.
func (b *Backend) startEgress(ctx context.Context, c *client.Client, sb *backend.Sandbox, running *container.InspectResponse) (wait func() error, err error) {
	eg := sb.Spec.Egress
	refuse := func(why string) error {
		return fmt.Errorf("%w: sandbox %s gets its network only through paddock's egress proxy (%s), but %s; paddock does not run it open",
			backend.ErrStartFailed, sb.Name, eg.Policy, why)
	}
	if eg.Home == "" || eg.ProxyPort < 1 || eg.ProxyPort > 65535 {
		return nil, refuse(fmt.Sprintf("its egress settings are incomplete (home %q, port %d)", eg.Home, eg.ProxyPort))
	}
	mode, err := b.egressMode(ctx, c)
	if err != nil {
		return nil, err
	}
	if running != nil && running.Config != nil && len(running.Config.Cmd) > 2 && running.Config.Cmd[1] == "__relay" {
		mode = modeSocket
		if running.Config.Cmd[2] == "--link" {
			mode = modeLink
		}
	}
	b.mu.Lock()
	b.mode = mode
	b.mu.Unlock()
	arch := ""
	if mode == modeLink {
		info, err := b.info(ctx, c)
		if err != nil {
			return nil, noEngine(c.DaemonHost(), err)
		}
		arch = info.Architecture
	}
	engine, err := b.engineBinary(arch)
	if err != nil {
		return nil, refuse("paddock's binary, which relays the proxy inside the container, is missing: " + err.Error())
	}
	server := engine
	cfg := egresshost.Config{Home: eg.Home, SandboxID: sb.ID, Sandbox: sb.Name, Preset: eg.Policy, Upstream: eg.Upstream}
	if mode == modeSocket {
		if runtime.GOOS != "linux" {
			return nil, refuse(ModeEnv + "=socket needs the engine on this Linux host")
		}
		if _, err := os.Stat(engine); err != nil {
			return nil, refuse("paddock's binary, which relays the proxy inside the container, is missing: " + err.Error())
		}
		if err := egresshost.CopyBinary(engine, sb.Dir); err != nil {
			return nil, refuse("paddock's binary could not be prepared for the container: " + err.Error())
		}
		if err := egress.WriteCABundle(eg.Home, caBundle(sb)); err != nil {
			return nil, refuse("the proxy's CA bundle could not be written: " + err.Error())
		}
	} else {
		if err := checkLinuxBinary(engine, arch); err != nil {
			return nil, refuse("paddock's binary, which relays the proxy inside the container, cannot run there: " + err.Error())
		}
		if server, err = b.serverBinary(); err != nil {
			return nil, refuse("paddock's own executable: " + err.Error())
		}
		if _, err := egress.LoadOrCreateCA(eg.Home); err != nil {
			return nil, refuse("the proxy's CA: " + err.Error())
		}
		cfg.Link = &egresshost.Link{Container: ContainerName(sb)}
	}
	if err := os.MkdirAll(egresshost.SockDir(sb.Dir), 0o755); err != nil {
		return nil, refuse("its socket folder could not be made: " + err.Error())
	}
	done := make(chan error, 1)
	go func() {
		done <- egresshost.StartServer(ctx, server, sb.Dir, cfg)
	}()
	return sync.OnceValue(func() error {
		if err := <-done; err != nil {
			return refuse("the proxy did not start: " + err.Error())
		}
		if mode == modeLink {
			return b.waitLinked(ctx, c, sb, refuse)
		}
		return nil
	}), nil
}

// waitLinked waits until the host side serves the container's current run.
func (b *Backend) waitLinked(ctx context.Context, c *client.Client, sb *backend.Sandbox, refuse func(string) error) error {
	ci, err := c.ContainerInspect(ctx, ContainerName(sb))
	if err != nil || ci.State == nil || !ci.State.Running {
		return refuse("its container is not running")
	}
	deadline := time.Now().Add(30 * time.Second)
	for egresshost.Linked(sb.Dir) != ci.State.StartedAt {
		if !egresshost.Running(sb.Dir) {
			return refuse("the proxy's host side ended: " + egresshost.LastLog(sb.Dir))
		}
		if time.Now().After(deadline) {
			return refuse("the proxy's host side did not reach the container within 30s: " + egresshost.LastLog(sb.Dir))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// copiedFile records what was last copied into which container.
func copiedFile(sb *backend.Sandbox) string { return filepath.Join(sb.Dir, "egress-copied") }

// copyIn puts the link mode's files into the (stopped) container, unless that container has
// them already.
func (b *Backend) copyIn(ctx context.Context, c *client.Client, sb *backend.Sandbox, containerID string) error {
	info, err := b.info(ctx, c)
	if err != nil {
		return noEngine(c.DaemonHost(), err)
	}
	engine, err := b.engineBinary(info.Architecture)
	if err != nil {
		return err
	}
	st, err := os.Stat(engine)
	if err != nil {
		return err
	}
	ca, err := egress.LoadOrCreateCA(sb.Spec.Egress.Home)
	if err != nil {
		return err
	}
	// What was copied is named by the container, the binary's path, size and time, and the CA:
	// the binary is read only when it must be copied.
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%d\n%d\n", containerID, engine, st.Size(), st.ModTime().UnixNano())
	h.Write(ca.PEM)
	sum := hex.EncodeToString(h.Sum(nil))
	if have, _ := os.ReadFile(copiedFile(sb)); string(have) == sum {
		return nil
	}
	bin, err := os.ReadFile(engine)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	// Both files live in one folder (/run/paddock): it and its parents first.
	var dirs []string
	for d := path.Dir(egresshost.Binary); d != "/"; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: now})
	}
	for _, f := range []struct {
		name string
		data []byte
		mode int64
	}{{egresshost.Binary, bin, 0o755}, {egresshost.CAFile, ca.PEM, 0o644}} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(f.name, "/"), Mode: f.mode, Size: int64(len(f.data)), ModTime: now})
		tw.Write(f.data)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := c.CopyToContainer(ctx, containerID, "/", &buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("copying paddock's relay into the container of sandbox %s: %v", sb.Name, firstLine(err))
	}
	return os.WriteFile(copiedFile(sb), []byte(sum), 0o600)
}
