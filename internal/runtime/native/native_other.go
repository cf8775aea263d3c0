//go:build !linux

package native

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/paddockhq/paddock/internal/runtime"
)

// Backend is the native engine, which needs Linux namespaces.
type Backend struct {
	RemoveOwned func(paths ...string) error
}

// New returns the native engine.
func New() *Backend { return &Backend{} }

var errNeedsLinux = fmt.Errorf("the native engine needs Linux: %w", runtime.ErrUnsupported)

// Name implements runtime.Backend.
func (*Backend) Name() string { return "native" }

// Start implements runtime.Backend.
func (*Backend) Start(context.Context, *runtime.Sandbox) error { return errNeedsLinux }

// Stop implements runtime.Backend.
func (*Backend) Stop(context.Context, *runtime.Sandbox, time.Duration) error { return nil }

// State implements runtime.Backend.
func (*Backend) State(context.Context, *runtime.Sandbox) (runtime.State, error) {
	return runtime.State{Status: "stopped"}, nil
}

// Exec implements runtime.Backend.
func (*Backend) Exec(context.Context, *runtime.Sandbox, runtime.ExecRequest, runtime.ExecIO) (int, error) {
	return -1, errNeedsLinux
}

// Remove implements runtime.Backend.
func (*Backend) Remove(_ context.Context, sb *runtime.Sandbox) error { return os.RemoveAll(sb.Dir) }

// SuperviseMain is the hidden supervisor command.
func SuperviseMain(string) int {
	fmt.Println("paddock: the native engine needs Linux")
	return 1
}

// helperCopy: no shared copy of paddock's binary off Linux.
func helperCopy(string) (string, bool) { return "", false }
