// Package dockername is what paddock's Docker backend (internal/backend/docker) names and
// promises, without its client: the CLI and doctor describe Docker sandboxes through it, and the
// paddock binary, which does not link the Docker client (see internal/handover), can too.
package dockername

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/paddockhq/paddock/internal/backend"
)

// HomeDir is the sandbox's home inside the container, a named volume.
const HomeDir = "/root"

// DefaultImage is the image of host-template sandboxes unless configured otherwise: Debian with
// Node.js (what the agents run on), git, curl and python3.
const DefaultImage = "node:22-bookworm"

// HomeFile, in the sandbox's state folder, names where its home volume is mounted (the image
// user's home); without it, HomeDir.
const HomeFile = "docker-home"

// Home is where a sandbox's home volume is mounted.
func Home(stateDir string) string {
	if b, err := os.ReadFile(filepath.Join(stateDir, HomeFile)); err == nil && strings.HasPrefix(string(b), "/") {
		return strings.TrimSpace(string(b))
	}
	return HomeDir
}

// ContainerName is the sandbox's container.
func ContainerName(sb *backend.Sandbox) string { return "paddock-" + sb.Name + "-" + sb.ID[:8] }

// HomeVolume is the named volume of the sandbox's home.
func HomeVolume(sb *backend.Sandbox) string { return "paddock-" + sb.ID[:12] + "-home" }

// Differences are how a sandbox on this backend differs from one on the native engine (shown by
// `paddock inspect`; docs/backends.md has the same table).
var Differences = []string{
	"root filesystem: a container of an image in the engine (the host template uses " + DefaultImage + ", or docker_image / PADDOCK_DOCKER_IMAGE), not the host's own /usr read-only",
	"home: the named volume " + "paddock-ID-home" + "; /tmp, /var and installed packages live in the container's writable layer",
	"processes run as root in the container; on a Linux engine without user-namespace remapping, files they create in the workspace are owned by root",
	"protections: Docker's seccomp profile and capabilities (less NET_RAW, MKNOD, AUDIT_WRITE, SETFCAP, NET_BIND_SERVICE, SYS_CHROOT) and no-new-privileges; no Landlock",
	"signals to exec without a terminal: sent with kill inside the container (an engine on this host); elsewhere Ctrl-C ends the exec's streams",
	"egress: the container has no network; a relay inside (paddock's Linux binary) hands 127.0.0.1:PORT's connections to the proxy, which runs on your machine: through a socket mounted from the sandbox's state folder when the engine is on this Linux host, else over docker exec streams of the Engine API (`paddock doctor` says which); without the proxy, no way out",
}

// Describe is what the Docker backend says of a sandbox for inspect (backend.Describer): its
// container and home volume, and how it differs from a native sandbox.
func Describe(sb *backend.Sandbox) backend.Description {
	return backend.Description{
		Persistent: []backend.Mount{
			{Kind: backend.KindDockerVolume, Source: HomeVolume(sb), Target: Home(sb.Dir)},
			{Kind: backend.KindDockerContainer, Source: ContainerName(sb), Target: "/"},
		},
		Paths:       map[string]string{"container": ContainerName(sb), "home_volume": HomeVolume(sb)},
		Differences: Differences,
		DefaultPids: backend.DefaultPids,
	}
}

// NoDiskLimit says why the Docker backend does not limit a sandbox's disk use.
const NoDiskLimit = "the Docker backend cannot limit a sandbox's disk use: its home is a named volume, which no Docker storage driver limits " +
	"(--storage-opt size= covers only the container's own layer, and only with overlay2 on XFS mounted pquota)"
