//go:build !linux

package docker

import (
	"fmt"

	"github.com/paddockhq/paddock/internal/backend"
)

// seccompProfile: Docker's default profile is only available to paddock's Linux build. On macOS
// and Windows the engine runs in Docker Desktop's VM, whose file sharing gives files made in a
// workspace to the host user, never to root.
func seccompProfile() (string, error) {
	return "", fmt.Errorf("%w: the setuid filter of the Docker backend", backend.ErrUnsupported)
}
