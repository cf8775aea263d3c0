package handover

import (
	"context"
	"io"
	"path/filepath"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/docker/dockername"
)

// DockerBackend stands for the Docker backend in the paddock binary: the first thing a command
// asks of it hands the whole command to paddock-oci, which has the real one.
type DockerBackend struct {
	dockername.NoDiskLimits // needs no engine
}

const dockerWhy = "the Docker backend"

func (DockerBackend) Name() string { return "docker" }

func (DockerBackend) Start(context.Context, *backend.Sandbox) error { return HandOver(dockerWhy) }

func (DockerBackend) Stop(context.Context, *backend.Sandbox, time.Duration) error {
	return HandOver(dockerWhy)
}

func (DockerBackend) State(context.Context, *backend.Sandbox) (backend.State, error) {
	return backend.State{Status: "unknown"}, HandOver(dockerWhy)
}

func (DockerBackend) Exec(context.Context, *backend.Sandbox, backend.ExecRequest, backend.ExecIO) (int, error) {
	return -1, HandOver(dockerWhy)
}

func (DockerBackend) Remove(context.Context, *backend.Sandbox) error { return HandOver(dockerWhy) }

// ResolveImage: the Docker backend's templates are the engine's images.
func (DockerBackend) ResolveImage(context.Context, string, string, io.Writer) (*backend.Image, error) {
	return nil, HandOver(dockerWhy)
}

// DockerSocket: --mount-docker-socket on the Docker backend.
func (DockerBackend) DockerSocket(context.Context) (string, error) { return "", HandOver(dockerWhy) }

// Engine: what `paddock doctor` reports of the engine.
func (DockerBackend) Engine(context.Context) (backend.Engine, error) {
	return backend.Engine{}, HandOver(dockerWhy)
}

// Has: whether a path exists in the sandbox's container.
func (DockerBackend) Has(context.Context, *backend.Sandbox, string) bool {
	HandOver(dockerWhy)
	return false
}

// Salvage: a damaged record of a Docker sandbox.
func (DockerBackend) Salvage(context.Context, string) (*backend.Sandbox, error) {
	return nil, HandOver(dockerWhy)
}

// Describe: inspect of a Docker sandbox needs no engine.
func (DockerBackend) Describe(sb *backend.Sandbox) backend.Description {
	return dockername.Describe(sb)
}

// Revive: the host side of a Docker sandbox's egress.
func (DockerBackend) Revive(context.Context, *backend.Sandbox) error { return HandOver(dockerWhy) }

// Changes: what an install sandbox changed in its container.
func (DockerBackend) Changes(context.Context, *backend.Sandbox) ([]string, error) {
	return nil, HandOver(dockerWhy)
}

var (
	_ backend.Differ         = DockerBackend{}
	_ backend.DiskLimiter    = DockerBackend{}
	_ backend.Salvager       = DockerBackend{}
	_ backend.Reviver        = DockerBackend{}
	_ backend.SocketProvider = DockerBackend{}
	_ backend.ImageResolver  = DockerBackend{}
	_ backend.FileChecker    = DockerBackend{}
	_ backend.Describer      = DockerBackend{}
	_ backend.EngineReporter = DockerBackend{}
)

// SessionSocket is where the Docker backend's session host answers (docker/sessions.go).
func (DockerBackend) SessionSocket(sb *backend.Sandbox) string {
	return filepath.Join(sb.Dir, "supervisor.sock")
}

// SessionState is where the Docker backend's session host keeps what its sessions do.
func (DockerBackend) SessionState(sb *backend.Sandbox) string {
	return filepath.Join(sb.Dir, "sessions.json")
}

// EnsureSessions starts the session host, which needs the Docker client.
func (DockerBackend) EnsureSessions(context.Context, *backend.Sandbox) error {
	return HandOver(dockerWhy)
}

// Publish: a published port is served by the Docker backend's host side.
func (DockerBackend) Publish(context.Context, *backend.Sandbox, backend.Port) error {
	return HandOver(dockerWhy)
}

// Unpublish: the same.
func (DockerBackend) Unpublish(context.Context, *backend.Sandbox, backend.Port) error {
	return HandOver(dockerWhy)
}

var _ backend.PortForwarder = DockerBackend{}
