//go:build !linux

package native

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
)

// Backend is the native engine, which needs Linux namespaces.
type Backend struct{}

// New returns the native engine.
func New() *Backend { return &Backend{} }

var errNeedsLinux = fmt.Errorf("the native engine needs Linux: %w", backend.ErrUnsupported)

// Name implements backend.Backend.
func (*Backend) Name() string { return "native" }

// Start implements backend.Backend.
func (*Backend) Start(context.Context, *backend.Sandbox) error { return errNeedsLinux }

// Stop implements backend.Backend.
func (*Backend) Stop(context.Context, *backend.Sandbox, time.Duration) error { return nil }

// State implements backend.Backend.
func (*Backend) State(context.Context, *backend.Sandbox) (backend.State, error) {
	return backend.State{Status: "stopped"}, nil
}

// Exec implements backend.Backend.
func (*Backend) Exec(context.Context, *backend.Sandbox, backend.ExecRequest, backend.ExecIO) (int, error) {
	return -1, errNeedsLinux
}

// Remove implements backend.Backend.
func (*Backend) Remove(_ context.Context, sb *backend.Sandbox) error { return os.RemoveAll(sb.Dir) }

// SuperviseMain is the hidden supervisor command.
func SuperviseMain(string) int {
	fmt.Println("paddock: the native engine needs Linux")
	return 1
}

// helperCopy: no shared copy of paddock's binary off Linux.
func helperCopy(string) (string, bool) { return "", false }
