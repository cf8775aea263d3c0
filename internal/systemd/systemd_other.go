//go:build !linux

package systemd

import (
	"context"
	"fmt"
)

// StartScope: systemd runs only on Linux.
func StartScope(context.Context, string, string, int) error {
	return fmt.Errorf("%w: systemd runs only on Linux", ErrUnavailable)
}

// EnableLinger: systemd runs only on Linux.
func EnableLinger(context.Context) error {
	return fmt.Errorf("%w: systemd runs only on Linux", ErrUnavailable)
}
