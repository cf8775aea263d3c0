// Package dockerinfo is what paddock's Docker backend (internal/runtime/docker) names and
// promises, without its client: the CLI and doctor describe Docker sandboxes through it, and the
// paddock binary, which does not link the Docker client (see internal/exe), can too.
package dockerinfo

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/paddockhq/paddock/internal/runtime"
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
func ContainerName(sb *runtime.Sandbox) string { return "paddock-" + sb.Name + "-" + sb.ID[:8] }

// HomeVolume is the named volume of the sandbox's home.
func HomeVolume(sb *runtime.Sandbox) string { return "paddock-" + sb.ID[:12] + "-home" }

// Engine describes the engine found.
type Engine struct {
	Host          string `json:"host"`
	Version       string `json:"version"`
	APIVersion    string `json:"api_version"`
	MinAPIVersion string `json:"min_api_version"`
	NegotiatedAPI string `json:"negotiated_api_version"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	Name          string `json:"name"` // e.g. "Docker Desktop", "Docker Engine - Community"
	System        string `json:"operating_system,omitempty"`
	CgroupVersion string `json:"cgroup_version,omitempty"`
	NCPU          int    `json:"ncpu"`
	MemTotal      int64  `json:"mem_total"`
	Context       string `json:"context,omitempty"` // the docker CLI context that named it
	// Egress is how sandboxes reach paddock's proxy: "socket" (the engine is on this host) or
	// "link" (over docker exec streams).
	Egress string `json:"egress"`
}

// Differences are how a sandbox on this backend differs from one on the native engine (shown by
// `paddock inspect`; the README has the same table).
var Differences = []string{
	"root filesystem: a container of an image in the engine (the host template uses " + DefaultImage + ", or docker_image / PADDOCK_DOCKER_IMAGE), not the host's own /usr read-only",
	"home: the named volume " + "paddock-ID-home" + "; /tmp, /var and installed packages live in the container's writable layer",
	"processes run as root in the container; on a Linux engine without user-namespace remapping, files they create in the workspace are owned by root",
	"protections: Docker's seccomp profile and capabilities (less NET_RAW, MKNOD, AUDIT_WRITE, SETFCAP, NET_BIND_SERVICE, SYS_CHROOT) and no-new-privileges; no Landlock",
	"signals to exec without a terminal: sent with kill inside the container (an engine on this host); elsewhere Ctrl-C ends the exec's streams",
	"egress: the container has no network; a relay inside (paddock's Linux binary) hands 127.0.0.1:PORT's connections to the proxy, which runs on your machine: through a socket mounted from the sandbox's state folder when the engine is on this Linux host, else over docker exec streams of the Engine API (`paddock doctor` says which); without the proxy, no way out",
}

// NoDiskLimit says why the Docker backend does not limit a sandbox's disk use.
const NoDiskLimit = "the Docker backend cannot limit a sandbox's disk use: its home is a named volume, which no Docker storage driver limits " +
	"(--storage-opt size= covers only the container's own layer, and only with overlay2 on XFS mounted pquota)"
