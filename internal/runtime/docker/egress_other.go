//go:build !linux

package docker

import (
	"context"
	"fmt"
	goruntime "runtime"

	"github.com/docker/docker/client"

	"github.com/paddockhq/paddock/internal/runtime"
)

// caBundleTarget is where the container would see its CA bundle.
const caBundleTarget = "/run/paddock/ca-bundle.pem"

func caBundle(sb *runtime.Sandbox) string { return "" }

func egressEnv(*runtime.Sandbox) []string { return nil }

// startEgress: paddock's proxy reaches a container only through a socket on the engine's own
// host, and the relay inside is paddock's Linux binary: refused here, never run open.
func (b *Backend) startEgress(_ context.Context, _ *client.Client, sb *runtime.Sandbox) (func() error, error) {
	return nil, fmt.Errorf("%w: sandbox %s gets its network only through paddock's egress proxy (%s), which the Docker backend cannot give a container on %s yet (it needs the engine on a Linux host); paddock does not run it open",
		runtime.ErrStartFailed, sb.Name, sb.Spec.Egress.Policy, goruntime.GOOS)
}
