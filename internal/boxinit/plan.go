// Package boxinit is what runs inside a sandbox as PID 1: it builds the sandbox's root from a
// mount plan, then reaps orphans and serves exec requests until it is told to stop.
package boxinit

import "github.com/paddockhq/paddock/internal/hostpath"

// Op kinds of a mount plan, executed in order before pivot_root.
const (
	OpTmpfs   = "tmpfs"   // Target, Mode, Data
	OpBind    = "bind"    // Source (host path) or FD, Target, ReadOnly, File
	OpSymlink = "symlink" // Target is the link, Link what it points to
	OpMkdir   = "mkdir"   // Target, Mode
	OpProc    = "proc"    // Target
	OpSysfs   = "sysfs"   // Target (read-only)
	OpDevpts  = "devpts"  // Target
	OpMask    = "mask"    // Target: hide a file or folder if it exists
	OpRebind  = "rebind"  // Target: bind a folder of the new root onto itself read-only
	// OpFile shows a small file of paddock's (the open file FD, sent with the config; Source
	// names it for messages) at Target, read-only, copied into a small tmpfs of the sandbox's own:
	// the sandbox's mount table shows no host path for it (a bind mount's shows where its source
	// is on the host).
	OpFile = "file"
)

// Op is one step of building the root. Targets are absolute paths inside the sandbox.
type Op struct {
	Op       string `json:"op"`
	Source   string `json:"source,omitempty"`
	Target   string `json:"target"`
	Link     string `json:"link,omitempty"`
	ReadOnly bool   `json:"ro,omitempty"`
	Shallow  bool   `json:"shallow,omitempty"` // bind only this mount, not those below it
	File     bool   `json:"file,omitempty"`
	Mode     uint32 `json:"mode,omitempty"`
	Data     string `json:"data,omitempty"`
	// FD is the index (from 1) of a detached mount (OpBind) or an open file (OpFile), prepared
	// by the supervisor, among the descriptors sent with the config; 0 means bind Source directly.
	FD int `json:"fd,omitempty"`
	// Idmap asks the supervisor (when paddock runs as root) to prepare this bind as an idmapped
	// mount, so that ids on disk read the same inside the sandbox as on the host.
	Idmap bool `json:"idmap,omitempty"`
	// OwnerIsUser (a workspace, volume or bind) asks, for a template whose USER is not root,
	// that the source's owner on disk appear as that user inside, and the user's files be
	// written as that owner on disk.
	OwnerIsUser bool `json:"owner_is_user,omitempty"`
	// ID, when set, is the identity the user's folder had when they named it: Source is opened
	// without following symlinks in any component, refused unless it is still that folder, and
	// the folder opened is what gets mounted (never the path again).
	ID hostpath.ID `json:"id,omitzero"`
}

// Config is what the supervisor sends the init before it builds the root.
type Config struct {
	Root     string   `json:"root"` // an empty folder, reachable by the init, to build the root on
	Hostname string   `json:"hostname"`
	Ops      []Op     `json:"ops"`
	Env      []string `json:"env"` // base environment of every process
	Workdir  string   `json:"workdir"`
	// SealRoot makes the root's own tmpfs read-only once built (not when the root is a workspace).
	SealRoot bool `json:"seal_root"`
	// Overlay, when set, makes the root an overlay of an OCI template's layers instead of a tmpfs.
	Overlay   *Overlay  `json:"overlay,omitempty"`
	Hardening Hardening `json:"hardening"`
	// EgressPort, when non-zero, makes the init listen on 127.0.0.1:EgressPort in the sandbox's
	// network namespace before anything else runs there, and hand the listener to the supervisor
	// with its ready message: the egress proxy serves it from the host side.
	EgressPort int `json:"egress_port,omitempty"`
}

// Overlay is a sandbox root made of read-only image layers under its own writable upper folder.
// The init pivots into it before applying the plan, so that no path a layer plants (a symlink
// at /etc or /dev, say) can lead a mount or mkdir out of the sandbox's root.
type Overlay struct {
	// FD is the index (from 1) of an overlay mount the supervisor prepared (root mode); 0 makes
	// the init mount it itself from the fields below, with userxattr (rootless).
	FD    int      `json:"fd,omitempty"`
	Lower []string `json:"lower,omitempty"` // top layer first
	Upper string   `json:"upper,omitempty"`
	Work  string   `json:"work,omitempty"`
}

// Hardening says which protections every process of the sandbox runs under. Capabilities are
// always Docker's default set (less CAP_SETFCAP), the bounding set too; no_new_privs is on
// unless SetuidReason says why the sandbox's setuid binaries must work.
type Hardening struct {
	// SetuidReason, when set, leaves no_new_privs off so that an OCI template's setuid-root
	// programs (sudo for its non-root USER) can raise privileges up to the bounding set; seccomp
	// and Landlock are installed all the same. Never set for the host template.
	SetuidReason string   `json:"setuid_reason,omitempty"`
	Seccomp      bool     `json:"seccomp"`  // the default filter; refusing to start if it cannot load
	Landlock     bool     `json:"landlock"` // restrict writes to Writable where the kernel has Landlock
	Writable     []string `json:"writable,omitempty"`
	// Nproc, when non-zero, caps the processes of the sandbox's root through RLIMIT_NPROC
	// (used where no pids cgroup is available).
	Nproc uint64 `json:"nproc,omitempty"`
}
