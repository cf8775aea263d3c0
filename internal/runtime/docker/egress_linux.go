package docker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"

	"github.com/docker/docker/client"

	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/exe"
	"github.com/paddockhq/paddock/internal/runtime"
	"github.com/paddockhq/paddock/internal/runtime/dockeregress"
)

// caBundleTarget is where the container sees its CA bundle.
const caBundleTarget = egress.CABundlePath

// egressEnv points the sandbox's tools at the proxy.
func egressEnv(sb *runtime.Sandbox) []string {
	if sb.Spec.Egress == nil {
		return nil
	}
	return egress.Env(sb.Spec.Egress.ProxyPort)
}

// caBundle is the sandbox's CA bundle (the host's roots and paddock's egress CA).
func caBundle(sb *runtime.Sandbox) string { return filepath.Join(sb.Dir, "egress", "ca-bundle.pem") }

// EngineBinary is paddock's Linux binary for the egress proxy's host side and the relay inside
// the container: PADDOCK_LINUX_BINARY, else the paddock beside this executable.
func (b *Backend) engineBinary() (string, error) {
	if b.EngineBinary != "" {
		return b.EngineBinary, nil
	}
	if p := os.Getenv("PADDOCK_LINUX_BINARY"); p != "" {
		return p, nil
	}
	return exe.EnginePath()
}

// startEgress checks that the proxy can be given to the container, and starts its host side.
//
// The checks and files come first; the host side starts in the background while the container
// starts, and wait returns its outcome (the relay must not start before it).
func (b *Backend) startEgress(ctx context.Context, c *client.Client, sb *runtime.Sandbox) (wait func() error, err error) {
	eg := sb.Spec.Egress
	refuse := func(why string) error {
		return fmt.Errorf("%w: sandbox %s gets its network only through paddock's egress proxy (%s), but %s; paddock does not run it open: use --backend native, or a Docker engine on this host",
			runtime.ErrStartFailed, sb.Name, eg.Policy, why)
	}
	if eg.Home == "" || eg.ProxyPort < 1 || eg.ProxyPort > 65535 {
		return nil, refuse(fmt.Sprintf("its egress settings are incomplete (home %q, port %d)", eg.Home, eg.ProxyPort))
	}
	if goruntime.GOOS != "linux" {
		return nil, refuse("on " + goruntime.GOOS + " the Docker backend cannot route a container through paddock's proxy yet (it needs the engine on this host)")
	}
	if !strings.HasPrefix(c.DaemonHost(), "unix://") {
		return nil, refuse("the engine at " + c.DaemonHost() + " is not on this host, so paddock's proxy cannot reach its containers")
	}
	engine, err := b.engineBinary()
	if err != nil {
		return nil, refuse("paddock's own binary, which relays the proxy inside the container, is missing: " + err.Error())
	}
	if err := dockeregress.CopyBinary(engine, sb.Dir); err != nil {
		return nil, refuse("paddock's binary could not be prepared for the container: " + err.Error())
	}
	if err := egress.WriteCABundle(eg.Home, caBundle(sb)); err != nil {
		return nil, refuse("the proxy's CA bundle could not be written: " + err.Error())
	}
	if err := os.MkdirAll(dockeregress.SockDir(sb.Dir), 0o755); err != nil {
		return nil, refuse("its socket folder could not be made: " + err.Error())
	}
	done := make(chan error, 1)
	go func() {
		done <- dockeregress.StartServer(ctx, engine, sb.Dir, dockeregress.Config{Home: eg.Home, SandboxID: sb.ID, Sandbox: sb.Name, Preset: eg.Policy})
	}()
	return sync.OnceValue(func() error {
		if err := <-done; err != nil {
			return refuse("the proxy did not start: " + err.Error())
		}
		return nil
	}), nil
}
