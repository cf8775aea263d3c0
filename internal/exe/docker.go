package exe

import (
	"context"
	"io"
	"time"

	"github.com/paddockhq/paddock/internal/runtime"
	"github.com/paddockhq/paddock/internal/runtime/dockerinfo"
)

// DockerBackend stands for the Docker backend in the paddock binary: the first thing a command
// asks of it hands the whole command to paddock-oci, which has the real one.
type DockerBackend struct{}

const dockerWhy = "the Docker backend"

func (DockerBackend) Name() string { return "docker" }

func (DockerBackend) Start(context.Context, *runtime.Sandbox) error { return HandOver(dockerWhy) }

func (DockerBackend) Stop(context.Context, *runtime.Sandbox, time.Duration) error {
	return HandOver(dockerWhy)
}

func (DockerBackend) State(context.Context, *runtime.Sandbox) (runtime.State, error) {
	return runtime.State{Status: "unknown"}, HandOver(dockerWhy)
}

func (DockerBackend) Exec(context.Context, *runtime.Sandbox, runtime.ExecRequest, runtime.ExecIO) (int, error) {
	return -1, HandOver(dockerWhy)
}

func (DockerBackend) Remove(context.Context, *runtime.Sandbox) error { return HandOver(dockerWhy) }

// ResolveImage: the Docker backend's templates are the engine's images.
func (DockerBackend) ResolveImage(context.Context, string, string, io.Writer) (*runtime.Image, error) {
	return nil, HandOver(dockerWhy)
}

// DockerSocket: --mount-docker-socket on the Docker backend.
func (DockerBackend) DockerSocket(context.Context) (string, error) { return "", HandOver(dockerWhy) }

// Engine: what `paddock doctor` reports of the engine.
func (DockerBackend) Engine(context.Context) (dockerinfo.Engine, error) {
	return dockerinfo.Engine{}, HandOver(dockerWhy)
}

// Has: whether a path exists in the sandbox's container.
func (DockerBackend) Has(context.Context, *runtime.Sandbox, string) bool {
	HandOver(dockerWhy)
	return false
}

// Salvage: a damaged record of a Docker sandbox.
func (DockerBackend) Salvage(context.Context, string) (*runtime.Sandbox, error) {
	return nil, HandOver(dockerWhy)
}

var _ runtime.Salvager = DockerBackend{}
