// Package runtime defines the narrow interface every sandbox backend implements and the typed
// sandbox spec the manager hands to it. Backends turn the spec into their own form; nothing above
// this package knows which backend runs a sandbox.
package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/hostpath"
)

// Error categories, checked with errors.Is.
var (
	ErrNotRunning  = errors.New("sandbox is not running")
	ErrUnsupported = errors.New("not supported on this host")
	ErrStartFailed = errors.New("sandbox failed to start")
	// ErrPortInUse: a port cannot be published (its host address is taken or not allowed).
	ErrPortInUse = errors.New("cannot publish")
)

// Disk-limit methods (DiskSupport.Method, DiskStatus.Method).
const (
	// DiskQuota: a project quota on the filesystem holding PADDOCK_HOME (XFS, or ext4 with the
	// project feature mounted prjquota) counts the sandbox's own folders.
	DiskQuota = "project-quota"
	// DiskImage: the sandbox's own folders live on a filesystem image of their own (a sparse
	// file, loop-mounted while the sandbox runs).
	DiskImage = "filesystem-image"
)

// DefaultDiskBytes is the disk limit of a new sandbox when none is asked for, applied where the
// host has project quotas (cheap, nothing to set up); elsewhere the default is not applied and
// doctor says so.
const DefaultDiskBytes = 20 << 30

// BytesPerInode derives a disk limit's inode limit from its bytes when none is given: ext4's
// default ratio, so a sandbox runs out of inodes when a filesystem of its size would.
const BytesPerInode = 16 << 10

// DiskSupport says whether and how a backend can limit the disk use of a new sandbox here.
type DiskSupport struct {
	Method string `json:"method,omitempty"` // DiskQuota, DiskImage, or "" (cannot)
	// Reason says why not (Method ""), or what the method costs.
	Reason string `json:"reason,omitempty"`
}

// DiskStatus is what a sandbox's disk limit is and how much of it is used.
type DiskStatus struct {
	Method      string `json:"method,omitempty"` // "" when not limited
	LimitBytes  int64  `json:"limit_bytes,omitempty"`
	LimitInodes int64  `json:"limit_inodes,omitempty"`
	UsedBytes   int64  `json:"used_bytes,omitempty"`
	UsedInodes  int64  `json:"used_inodes,omitempty"`
	Reason      string `json:"reason,omitempty"` // why not limited
}

// AllCPUs as Limits.CPUs leaves a sandbox every CPU of the host (paddock's own short jobs: an
// agent's install, CPU-bound unpacking, whose user waits for it).
const AllCPUs = -1

// DefaultPids is the process limit of a sandbox when none is asked for, on every backend.
const DefaultPids = 4096

// MountKind says what a mount is for.
type MountKind string

// The kinds of mounts. The user names workspaces, -v folders and (through a worktree) git
// folders; paddock manages the others and refreshes them at each start, so they never drift.
const (
	KindWorkspace   MountKind = "workspace"     // a workspace, at its own path
	KindGitdir      MountKind = "gitdir"        // the repository of a workspace that is a git worktree
	KindOrigin      MountKind = "origin"        // the objects a branch sandbox's checkout borrows, read-only
	KindBind        MountKind = "bind"          // a -v folder or file
	KindAgent       MountKind = "agent"         // the installed agent, read-only
	KindVolume      MountKind = "volume"        // an agent's config volume
	KindAgentConfig MountKind = "agent-config"  // the host's agent instructions, read-only (--agent-config host)
	KindDockerSock  MountKind = "docker-socket" // the Docker engine's socket (--mount-docker-socket)
	// Described by inspect only: a sandbox's own persistent folders, and the Docker backend's
	// volume and container that hold them.
	KindPersistent      MountKind = "persistent"
	KindDockerVolume    MountKind = "docker-volume"
	KindDockerContainer MountKind = "docker-container"
)

// Mount is one host folder made visible inside the sandbox.
type Mount struct {
	Kind     MountKind `json:"kind"`
	Source   string    `json:"source"`
	Target   string    `json:"target"`
	ReadOnly bool      `json:"read_only"`
	// ID is the source's identity (device and inode), recorded when the user gave it: each start
	// opens the source without following symlinks and refuses a folder that is not this one.
	ID hostpath.ID `json:"id,omitzero"`
	// Why says why paddock added a mount the user did not name (a git worktree's repository).
	Why string `json:"why,omitempty"`
}

// Recorded reports whether the mount's source was named by the user, so that it is identified
// when given and checked at every start (workspaces, -v folders, a worktree's git folder).
func (m Mount) Recorded() bool {
	return m.Kind == KindWorkspace || m.Kind == KindBind || m.Kind == KindGitdir || m.Kind == KindOrigin
}

// SameMount compares two mounts as the user described them (not their recorded identities, nor
// the reasons paddock gives).
func SameMount(a, b Mount) bool {
	a.ID, b.ID, a.Why, b.Why = hostpath.ID{}, hostpath.ID{}, "", ""
	return a == b
}

// Limits are the resource limits requested for a sandbox. Zero means the backend's default.
type Limits struct {
	// CPUs is a CPU quota; AllCPUs asks for none (the default is all CPUs but one).
	CPUs        float64 `json:"cpus,omitempty"`
	MemoryBytes int64   `json:"memory_bytes,omitempty"`
	Pids        int64   `json:"pids,omitempty"`
	// DiskBytes and DiskInodes limit what the sandbox writes under PADDOCK_HOME (DiskLimiter).
	DiskBytes  int64 `json:"disk_bytes,omitempty"`
	DiskInodes int64 `json:"disk_inodes,omitempty"`
}

// Image is the OCI template a sandbox's root is made of (nil for the host template).
type Image struct {
	Ref    string `json:"ref"`    // normalized reference
	Digest string `json:"digest"` // manifest digest
	// LayerDirs are the unpacked layers in the template cache, lowest first.
	LayerDirs  []string `json:"layer_dirs"`
	User       string   `json:"user,omitempty"` // the image's USER: default user of run and exec
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"working_dir,omitempty"`
}

// Spec is everything a backend needs to start a sandbox.
type Spec struct {
	// Template is "host" (or "") or the normalized reference of an OCI image, described by Image.
	Template string   `json:"template"`
	Image    *Image   `json:"image,omitempty"`
	Hostname string   `json:"hostname"`
	Workdir  string   `json:"workdir"`
	Mounts   []Mount  `json:"mounts"`
	Env      []string `json:"env,omitempty"`
	Limits   Limits   `json:"limits"`
	Hide     []string `json:"hide,omitempty"` // paths masked inside (paddock's state under a forced workspace)
	// UnsafeNoLimits lets the sandbox start where the host cannot limit its memory and CPU.
	UnsafeNoLimits bool   `json:"unsafe_no_limits,omitempty"`
	GitName        string `json:"git_name,omitempty"`
	GitEmail       string `json:"git_email,omitempty"`
	// HostPath is the PATH of the paddock command that starts the sandbox, filled in by the
	// manager at each start; a host-template backend keeps the folders of it that the sandbox
	// shows (the user's /usr/local/go/bin, /opt/tool/bin). Never part of a sandbox's settings.
	HostPath []string `json:"host_path,omitempty"`
	// AgentEnv is set by paddock for the sandbox's agent (where its config lives); it comes
	// before Env, and is not a user setting.
	AgentEnv []string `json:"agent_env,omitempty"`
	// Egress is the sandbox's only path out. Nil: loopback only, nothing outside is reachable.
	Egress *Egress `json:"egress,omitempty"`
	// Ports are published while the sandbox runs: a listener on the host for each, whose
	// connections the backend carries to the port on the sandbox's loopback (the sandbox gets no
	// network interface for it). A backend that has Ports must be a PortForwarder.
	Ports []Port `json:"ports,omitempty"`
}

// Port is a published port: connections to HostIP:HostPort on the host reach 127.0.0.1:Port (or
// [::1]:Port) inside the sandbox.
type Port struct {
	HostIP   string `json:"host_ip"`
	HostPort int    `json:"host_port"`
	Port     int    `json:"port"`
}

// String is the port as -p takes it.
func (p Port) String() string {
	h := p.HostIP
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return fmt.Sprintf("%s:%d:%d", h, p.HostPort, p.Port)
}

// HostAddr is where the host listens.
func (p Port) HostAddr() string { return net.JoinHostPort(p.HostIP, strconv.Itoa(p.HostPort)) }

// Egress asks the backend to make paddock's egress proxy (internal/egress) reachable inside the
// sandbox, and nothing else: the backend creates a TCP listener on 127.0.0.1:ProxyPort in the
// sandbox's own network namespace and serves it with the proxy from the host side for the
// sandbox's lifetime. If it cannot, the start fails (never fail open).
type Egress struct {
	ProxyPort int `json:"proxy_port"`
	// Policy is the preset the sandbox was created with: "locked", "balanced" or "open".
	Policy string `json:"policy"`
	// Home is PADDOCK_HOME (the global policy, the CA, the secrets), filled in by the manager at
	// each start; never part of a sandbox's settings.
	Home string `json:"home,omitempty"`
	// Upstream is a proxy the egress proxy reaches allowed hosts through (egress.Options).
	Upstream string `json:"upstream_proxy,omitempty"`
}

// Enforcement says which limits the host actually enforces on a running sandbox, and their values.
type Enforcement struct {
	Driver      string  `json:"driver"` // "v2", "v1" or "none"
	CPU         bool    `json:"cpu"`
	CPUs        float64 `json:"cpus,omitempty"`
	Memory      bool    `json:"memory"`
	MemoryBytes int64   `json:"memory_bytes,omitempty"`
	Pids        bool    `json:"pids"`
	PidsMax     int64   `json:"pids_max,omitempty"`
	PidsMethod  string  `json:"pids_method,omitempty"` // "cgroup" or "rlimit"
	Reason      string  `json:"reason,omitempty"`
	Scope       string  `json:"systemd_scope,omitempty"` // the systemd scope unit holding the sandbox
}

// Protections are what a sandbox's processes run under.
type Protections struct {
	Seccomp    bool `json:"seccomp"`
	NoNewPrivs bool `json:"no_new_privs"`
	// NoNewPrivsOff says why no_new_privs is off (an OCI template's setuid sudo must work).
	NoNewPrivsOff string   `json:"no_new_privs_off,omitempty"`
	Capabilities  string   `json:"capabilities"`
	LandlockABI   int      `json:"landlock_abi"` // 0: the kernel has no Landlock
	Writable      []string `json:"landlock_writable,omitempty"`
	UserNS        bool     `json:"user_namespace"`
	Namespaces    []string `json:"namespaces"`
}

// Sandbox is a spec bound to its identity and its private state folder.
type Sandbox struct {
	ID   string
	Name string
	Dir  string // private state: persistent layers, sockets, logs
	Spec Spec
}

// State is what a backend knows about a sandbox at this moment.
type State struct {
	Status        string       `json:"status"` // "running" or "stopped"
	SupervisorPID int          `json:"supervisor_pid,omitempty"`
	InitPID       int          `json:"init_pid,omitempty"`
	Pids          []int        `json:"pids,omitempty"`
	StartedAt     time.Time    `json:"started_at,omitzero"`
	FinishedAt    time.Time    `json:"finished_at,omitzero"`
	ExitReason    string       `json:"exit_reason,omitempty"`
	UIDMap        string       `json:"uid_map,omitempty"`
	Rootless      bool         `json:"rootless"`
	Enforced      *Enforcement `json:"limits_enforced,omitempty"`
	Protections   *Protections `json:"protections,omitempty"`
	// Limit events since the sandbox started: processes the OOM killer ended, forks refused.
	OOMKills      int64         `json:"oom_kills"`
	PidsLimitHits int64         `json:"pids_limit_hits"`
	MemoryBytes   int64         `json:"memory_bytes,omitempty"`
	Uptime        time.Duration `json:"-"`
}

// ExecRequest is one process to start inside a running sandbox.
type ExecRequest struct {
	Argv  []string
	Env   []string // added to the sandbox's environment
	Dir   string
	User  string // "" (root), a name, uid or uid:gid
	TTY   bool
	Stdin bool // attach stdin; without it the process reads /dev/null
}

// ExecIO are the caller's streams.
type ExecIO struct {
	Stdin          *os.File
	Stdout, Stderr *os.File
	// Progress, when non-nil, receives human status lines (never data).
	Progress io.Writer
}

// Backend runs sandboxes. Every implementation passes the conformance suite.
type Backend interface {
	Name() string
	// Start starts a stopped sandbox and returns when it accepts exec requests.
	Start(ctx context.Context, sb *Sandbox) error
	// Stop stops it, giving processes grace to exit before they are killed.
	Stop(ctx context.Context, sb *Sandbox, grace time.Duration) error
	State(ctx context.Context, sb *Sandbox) (State, error)
	// Exec runs a process and returns its exit code (128+signal when killed).
	Exec(ctx context.Context, sb *Sandbox, req ExecRequest, stdio ExecIO) (int, error)
	// Remove deletes the sandbox's private state. The sandbox must be stopped.
	Remove(ctx context.Context, sb *Sandbox) error
}
