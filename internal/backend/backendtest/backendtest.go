// Package backendtest is a backend that runs nothing, for testing front ends and the manager
// without an engine: it keeps which sandboxes run, and answers exec with the exit code a test
// chose, writing the command line to the command's stdout.
package backendtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
)

// Backend is the in-memory backend. Its zero value is ready; Name is "native" unless set, so
// records made with it look like the default backend's.
type Backend struct {
	BackendName string
	// ExitCodes answers exec: the exit code for a command (its first word); 0 otherwise.
	ExitCodes map[string]int

	mu      sync.Mutex
	running map[string]bool
	// Started are the specs of the sandboxes started, in order.
	Started []backend.Spec
	// Execs are the commands run, in order.
	Execs []backend.ExecRequest
}

var _ backend.Backend = (*Backend)(nil)

// Name implements backend.Backend.
func (b *Backend) Name() string {
	if b.BackendName == "" {
		return "native"
	}
	return b.BackendName
}

// Start implements backend.Backend.
func (b *Backend) Start(_ context.Context, sb *backend.Sandbox) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running == nil {
		b.running = map[string]bool{}
	}
	b.Started = append(b.Started, sb.Spec)
	b.running[sb.ID] = true
	return nil
}

// Stop implements backend.Backend.
func (b *Backend) Stop(_ context.Context, sb *backend.Sandbox, _ time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.running, sb.ID)
	return nil
}

// Running reports whether the sandbox runs.
func (b *Backend) Running(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running[id]
}

// State implements backend.Backend.
func (b *Backend) State(_ context.Context, sb *backend.Sandbox) (backend.State, error) {
	if b.Running(sb.ID) {
		return backend.State{Status: "running"}, nil
	}
	return backend.State{Status: "stopped"}, nil
}

// Exec implements backend.Backend: the sandbox must run; the command line goes to stdout.
func (b *Backend) Exec(_ context.Context, sb *backend.Sandbox, req backend.ExecRequest, stdio backend.ExecIO) (int, error) {
	if !b.Running(sb.ID) {
		return -1, backend.ErrNotRunning
	}
	b.mu.Lock()
	b.Execs = append(b.Execs, req)
	code := b.ExitCodes[req.Argv[0]]
	b.mu.Unlock()
	if code < 0 {
		return -1, fmt.Errorf("%s: command not found in the sandbox", req.Argv[0])
	}
	if stdio.Stdout != nil {
		fmt.Fprintln(stdio.Stdout, strings.Join(req.Argv, " "))
	}
	return code, nil
}

// Remove implements backend.Backend.
func (b *Backend) Remove(_ context.Context, sb *backend.Sandbox) error {
	b.mu.Lock()
	delete(b.running, sb.ID)
	b.mu.Unlock()
	return os.RemoveAll(sb.Dir)
}
