// Package runtime defines the narrow interface every sandbox backend implements and the typed
// sandbox spec the manager hands to it. Backends turn the spec into their own form; nothing above
// this package knows which backend runs a sandbox.
package runtime

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/paddockhq/paddock/internal/hostpath"
)

// Error categories, checked with errors.Is.
var (
	ErrNotRunning  = errors.New("sandbox is not running")
	ErrUnsupported = errors.New("not supported on this host")
	ErrStartFailed = errors.New("sandbox failed to start")
)

// NoDiskLimit says why no backend limits a sandbox's disk use: a sandbox can fill the
// filesystem holding PADDOCK_HOME (its blocks and its inodes). Limits need project quotas (XFS,
// or ext4 with the project feature) or a filesystem image per sandbox, which paddock does not
// set up yet.
const NoDiskLimit = "paddock cannot limit a sandbox's disk use on this host yet (no project quotas or per-sandbox filesystem set up)"

// Mount is one host folder made visible inside the sandbox.
type Mount struct {
	// "workspace", "gitdir" or "bind"; paddock-managed (refreshed at each start, never drift):
	// "agent" (the installed agent, read-only), "volume" (an agent's config volume) and
	// "agent-config" (the host's agent instructions, read-only, with --agent-config host).
	Kind     string `json:"kind"`
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
	// ID is the source's identity (device and inode), recorded when the user gave it: each start
	// opens the source without following symlinks and refuses a folder that is not this one.
	ID hostpath.ID `json:"id,omitzero"`
	// Why says why paddock added a mount the user did not name (a git worktree's repository).
	Why string `json:"why,omitempty"`
}

// Recorded reports whether the mount's source was named by the user, so that it is identified
// when given and checked at every start (workspaces, -v folders, a worktree's git folder).
func (m Mount) Recorded() bool {
	return m.Kind == "workspace" || m.Kind == "bind" || m.Kind == "gitdir"
}

// SameMount compares two mounts as the user described them (not their recorded identities, nor
// the reasons paddock gives).
func SameMount(a, b Mount) bool {
	a.ID, b.ID, a.Why, b.Why = hostpath.ID{}, hostpath.ID{}, "", ""
	return a == b
}

// Limits are the resource limits requested for a sandbox. Zero means unlimited.
type Limits struct {
	CPUs        float64 `json:"cpus,omitempty"`
	MemoryBytes int64   `json:"memory_bytes,omitempty"`
	Pids        int64   `json:"pids,omitempty"`
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
}

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

// Salvager is a backend that can tell, from its own files in a sandbox's state folder, which
// sandbox the folder holds when paddock's record of it is unreadable: so that a damaged record
// never hides a running sandbox (rm -f stops and removes it) nor lets a second sandbox be made
// for its folder. Salvage returns fs.ErrNotExist when the folder holds none of this backend's.
type Salvager interface {
	Salvage(ctx context.Context, dir string) (*Sandbox, error)
}

// Differ is a backend that lists what a sandbox changed in its own root filesystem (outside
// its mounts and home volume): the Docker backend's container layer. Paths are absolute, the
// topmost added entry and each changed file, "D " before deleted ones.
type Differ interface {
	Changes(ctx context.Context, sb *Sandbox) ([]string, error)
}

// Reviver is a backend whose running sandboxes depend on a host process that can end apart from
// them (the Docker backend's egress proxy host side: without it the sandbox has no network).
// Revive restores it; paddock calls it when it runs a command in a running sandbox.
type Reviver interface {
	Revive(ctx context.Context, sb *Sandbox) error
}
