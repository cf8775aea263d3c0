package backend

import (
	"context"
	"io"
)

// Abilities a backend may have beyond Backend. Each is declared here once; a backend states
// the ones it has with compile-time checks (var _ backend.Salvager = (*T)(nil)), and the manager
// asks for them with a type assertion. Abilities lists them for tests that compare backends (the
// paddock binary's stand-in for the Docker backend must have exactly the real one's).

// Salvager finds a sandbox from its backend's own files when its record is unreadable, so that
// its processes can be stopped and its resources removed.
type Salvager interface {
	Salvage(ctx context.Context, dir string) (*Sandbox, error)
}

// Reviver is a backend whose running sandboxes depend on a host process that can end apart from
// them (the Docker backend's egress proxy host side: without it the sandbox has no network).
// Revive restores it; paddock calls it when it runs a command in a running sandbox.
type Reviver interface {
	Revive(ctx context.Context, sb *Sandbox) error
}

// SocketProvider is a backend that can show a Docker engine's socket inside its sandboxes.
type SocketProvider interface {
	DockerSocket(ctx context.Context) (string, error)
}

// ImageResolver is a backend whose templates are images of its own engine, not paddock's
// template cache.
type ImageResolver interface {
	ResolveImage(ctx context.Context, ref, policy string, progress io.Writer) (*Image, error)
}

// FileChecker is a backend that can look inside a sandbox's own file system (the Docker
// engine's containers), for paddock to decide how to start an agent there.
type FileChecker interface {
	Has(ctx context.Context, sb *Sandbox, path string) bool
}

// Differ is a backend that lists what a sandbox changed in its own root filesystem (outside
// its mounts and home volume): the Docker backend's container layer. Paths are absolute, the
// topmost added entry and each changed file, "D " before deleted ones.
type Differ interface {
	Changes(ctx context.Context, sb *Sandbox) ([]string, error)
}

// DiskLimiter is a backend that can limit what a sandbox writes under PADDOCK_HOME (its writable
// layer, home, /tmp and /var; never the workspace).
type DiskLimiter interface {
	// DiskSupport says how a sandbox whose state folder will be made in dir (PADDOCK_HOME's
	// sandboxes folder) would be limited.
	DiskSupport(ctx context.Context, dir string) DiskSupport
	// DiskStatus reports the limit a sandbox has and its use.
	DiskStatus(ctx context.Context, sb *Sandbox) DiskStatus
	// DiskChange says why a sandbox's limit cannot become l (nil: it can, at its next start).
	DiskChange(ctx context.Context, sb *Sandbox, l Limits) error
}

// Describer is a backend that says where a sandbox's persistent state is kept and how its
// sandboxes differ from the native backend's, for inspect.
type Describer interface {
	Describe(sb *Sandbox) Description
}

// Description is what a Describer says of a sandbox.
type Description struct {
	// Persistent are the folders, volumes or containers that keep the sandbox's own files.
	Persistent []Mount
	// Paths names them (state, home, container, ...), for scripts.
	Paths map[string]string
	// Differences says how the sandbox differs from one on the native backend.
	Differences []string
	// DefaultPids is the process limit of a sandbox that set none.
	DefaultPids int64
}

// EngineReporter is a backend that runs on a separate engine and reports it for doctor.
type EngineReporter interface {
	Engine(ctx context.Context) (Engine, error)
}

// Abilities are the optional interfaces above, as nil pointers for reflection.
// SessionHost is a backend whose sandboxes keep background sessions (paddock run -d AGENT):
// a session server (internal/session) answers on SessionSocket while the sandbox runs, and
// keeps what its sessions are doing in SessionState for listings.
type SessionHost interface {
	SessionSocket(sb *Sandbox) string
	SessionState(sb *Sandbox) string
	// EnsureSessions makes sure a session server answers for the running sandbox sb.
	EnsureSessions(ctx context.Context, sb *Sandbox) error
}

// PortForwarder is a backend that publishes a sandbox's ports (Spec.Ports) when it starts, and
// while it runs: Publish listens on the host (an address in use is an error that says so),
// Unpublish closes the listener.
type PortForwarder interface {
	Publish(ctx context.Context, sb *Sandbox, p Port) error
	Unpublish(ctx context.Context, sb *Sandbox, p Port) error
}

var Abilities = []any{(*Salvager)(nil), (*Reviver)(nil), (*SocketProvider)(nil), (*ImageResolver)(nil),
	(*FileChecker)(nil), (*Describer)(nil), (*EngineReporter)(nil), (*Differ)(nil),
	(*DiskLimiter)(nil), (*SessionHost)(nil), (*PortForwarder)(nil)}
