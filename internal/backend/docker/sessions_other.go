//go:build !linux

package docker

import (
	"context"
	"errors"

	"github.com/paddockhq/paddock/internal/backend"
)

// EnsureSessions implements backend.SessionHost: not on this host.
func (b *Backend) EnsureSessions(context.Context, *backend.Sandbox) error {
	return errors.New("background sessions on the Docker backend are supported on Linux hosts only")
}

// SessionServeMain is not available on this host.
func SessionServeMain([]string) int { return 2 }

func stopHost(string) {}

// publishAll: published ports on the Docker backend need a Linux host.
func (b *Backend) publishAll(_ context.Context, sb *backend.Sandbox) error {
	if len(sb.Spec.Ports) == 0 {
		return nil
	}
	return errors.New("published ports on the Docker backend are supported on Linux hosts only")
}
func answers(string) bool { return false }
