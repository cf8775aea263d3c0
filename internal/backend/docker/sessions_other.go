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
