package native

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/boxinit"
	"github.com/paddockhq/paddock/internal/egress"
)

// Host folders the host template shows read-only. Home folders, /root, /run, /var, /mnt,
// /media, /srv, /tmp and /boot are never shown.
var hostSystemDirs = []string{"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "opt", "etc"}

// Secret files and folders of /etc that the host template hides.
var etcSecrets = []string{
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/security/opasswd",
	"/etc/ssl/private", "/etc/sudoers", "/etc/sudoers.d", "/etc/krb5.keytab", "/etc/docker",
	"/etc/containers/auth.json", "/etc/NetworkManager/system-connections", "/etc/wireguard",
	"/etc/ipsec.secrets", "/etc/ppp/chap-secrets", "/etc/ppp/pap-secrets", "/etc/libvirt",
	"/etc/letsencrypt", "/etc/netplan", "/etc/cups/ssl", "/etc/machine-id",
}

// Kernel interfaces under /proc and /sys that a sandbox must not see (as Docker masks them), and
// those it may only read.
var (
	procMasked = []string{"/proc/kcore", "/proc/keys", "/proc/key-users", "/proc/sysrq-trigger", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/latency_stats", "/proc/acpi", "/proc/scsi", "/proc/asound",
		"/proc/interrupts", "/proc/kallsyms", "/proc/kmsg", "/proc/kpagecount", "/proc/kpageflags", "/proc/kpagecgroup",
		"/proc/config.gz", "/sys/firmware", "/sys/devices/virtual/powercap", "/sys/kernel/debug", "/sys/kernel/security"}
	procReadOnly = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"}
)

// Device nodes bound from the host into the sandbox's minimal /dev.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// Paths inside the sandbox that belong to the engine; mounts may not land on or above them.
var reservedTargets = []string{"/", "/proc", "/sys", "/dev", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/run"}

// layout names the sandbox's private state inside its folder.
type layout struct {
	dir  string
	data string // where its writable folders are: its filesystem image's mount, or dir
}

// newLayout is the layout of a sandbox's state folder: its writable folders live on its
// filesystem image when it has one (see disk_linux.go).
func newLayout(dir string) layout {
	if _, err := os.Lstat(filepath.Join(dir, "disk.img")); err == nil {
		return layout{dir: dir, data: filepath.Join(dir, "disk")}
	}
	return layout{dir: dir}
}

// base is the folder of the writable folders.
func (l layout) base() string {
	if l.data != "" {
		return l.data
	}
	return l.dir
}

func (l layout) root() string           { return filepath.Join(l.dir, "rootfs") }
func (l layout) home() string           { return filepath.Join(l.base(), "home") }
func (l layout) tmp() string            { return filepath.Join(l.base(), "tmp") }
func (l layout) vardir() string         { return filepath.Join(l.base(), "var") }
func (l layout) upper() string          { return filepath.Join(l.base(), "upper") } // OCI: the overlay's writable layer
func (l layout) work() string           { return filepath.Join(l.base(), "work") }  // OCI: overlayfs's work folder
func (l layout) etc(n string) string    { return filepath.Join(l.dir, "etc", n) }
func (l layout) sock() string           { return filepath.Join(l.dir, "exec.sock") }
func (l layout) spec() string           { return filepath.Join(l.dir, "spec.json") }
func (l layout) state() string          { return filepath.Join(l.dir, "backend.json") }
func (l layout) supervisorLock() string { return filepath.Join(l.dir, "supervisor.lock") }
func (l layout) log() string            { return filepath.Join(l.dir, "supervisor.log") }
func (l layout) bootID() string         { return filepath.Join(l.dir, "etc", "boot_id") }
func (l layout) caBundle() string       { return filepath.Join(l.dir, "egress", "ca-bundle.pem") }

// DefaultPids is the process limit of a sandbox when none is asked for.
const DefaultPids = backend.DefaultPids

// Describe implements backend.Describer: a sandbox's home, /tmp and /var are folders of its
// state folder.
func (*Backend) Describe(sb *backend.Sandbox) backend.Description {
	d := backend.Description{Paths: map[string]string{}, DefaultPids: DefaultPids}
	for _, p := range []struct{ name, target string }{{"home", HomeDir}, {"tmp", "/tmp"}, {"var", "/var"}} {
		src := filepath.Join(sb.Dir, p.name)
		d.Persistent = append(d.Persistent, backend.Mount{Kind: backend.KindPersistent, Source: src, Target: p.target})
		d.Paths[p.name] = src
	}
	return d
}

var _ backend.Describer = (*Backend)(nil)

// DefaultLimits are a sandbox's limits when none are asked for: 4096 processes, half the host's
// memory, and all CPUs but one, so a runaway sandbox leaves the host room to work.
func DefaultLimits() backend.Limits {
	cpus := runtime.NumCPU() - 1
	if cpus < 1 {
		cpus = 1
	}
	return backend.Limits{CPUs: float64(cpus), MemoryBytes: hostMemory() / 2 &^ (1<<20 - 1), Pids: DefaultPids}
}

// hostMemory is the host's total memory in bytes (0 if unknown).
func hostMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// HomeDir is where the agent's home lives inside the sandbox.
const HomeDir = "/root"

// hostPlan builds the mount plan of the host template: a tmpfs root with the host's system
// folders read-only, a private /dev, /proc and /sys, private persistent home, /tmp and /var,
// and the workspaces and volumes at their targets.
func hostPlan(sb *backend.Sandbox, hostRoot string) []boxinit.Op {
	l := newLayout(sb.Dir)
	var ops []boxinit.Op
	rootWS := RootIsWorkspace(sb)
	if rootWS {
		// A forced workspace of /: the host's root filesystem itself (not the filesystems
		// mounted below it), writable, instead of the read-only system folders.
		ops = append(ops, boxinit.Op{Op: boxinit.OpBind, Source: hostRoot, Target: "/", Shallow: true, Idmap: true})
	}
	for _, d := range hostSystemDirs {
		if rootWS {
			break
		}
		p := filepath.Join(hostRoot, d)
		st, err := os.Lstat(p)
		switch {
		case err != nil:
			continue
		case st.Mode()&os.ModeSymlink != 0:
			if link, err := os.Readlink(p); err == nil {
				ops = append(ops, boxinit.Op{Op: boxinit.OpSymlink, Target: "/" + d, Link: link})
			}
		case st.IsDir():
			ops = append(ops, boxinit.Op{Op: boxinit.OpBind, Source: p, Target: "/" + d, ReadOnly: true})
		}
	}
	secrets := append([]string{}, etcSecrets...)
	if keys, _ := filepath.Glob(filepath.Join(hostRoot, "etc/ssh/ssh_host_*key")); len(keys) > 0 {
		for _, k := range keys {
			secrets = append(secrets, strings.TrimPrefix(k, strings.TrimSuffix(hostRoot, "/")))
		}
	}
	for _, s := range secrets {
		ops = append(ops, boxinit.Op{Op: boxinit.OpMask, Target: s})
	}
	for _, f := range []string{"hostname", "hosts"} {
		if _, err := os.Stat(filepath.Join(hostRoot, "etc", f)); err == nil {
			ops = append(ops, fileOp(l.etc(f), "/etc/"+f))
		}
	}
	ops = append(append(ops, kernelOps()...), bootIDOp(l))
	if !rootWS {
		ops = append(ops,
			boxinit.Op{Op: boxinit.OpTmpfs, Target: "/home", Mode: 0o755},
			boxinit.Op{Op: boxinit.OpMkdir, Target: "/mnt"},
			boxinit.Op{Op: boxinit.OpMkdir, Target: "/media"},
			boxinit.Op{Op: boxinit.OpMkdir, Target: "/srv"},
		)
	}
	ops = append(ops,
		boxinit.Op{Op: boxinit.OpBind, Source: l.home(), Target: HomeDir, Idmap: true},
		boxinit.Op{Op: boxinit.OpBind, Source: l.tmp(), Target: "/tmp", Idmap: true},
		boxinit.Op{Op: boxinit.OpBind, Source: l.vardir(), Target: "/var", Idmap: true},
	)
	ops = append(ops, egressOps(sb)...)
	return append(ops, mountOps(sb)...)
}

// bootIDOp shows the sandbox its own boot id instead of the host's.
func bootIDOp(l layout) boxinit.Op {
	return fileOp(l.bootID(), bootIDPath)
}

// fileOp shows a small file of the sandbox's state folder (paddock's, out of the sandbox's
// reach) read-only at target: a copy in the sandbox's own tmpfs, so that its mount table does not
// show where PADDOCK_HOME is. The supervisor opens it and sends it to the init (openFiles).
func fileOp(src, target string) boxinit.Op {
	return boxinit.Op{Op: boxinit.OpFile, Source: src, Target: target}
}

const bootIDPath = "/proc/sys/kernel/random/boot_id"

// writeBootID gives a sandbox its boot id (a random UUID, as the kernel's), once: rewriting a
// file at every start would cost ext4's flush on truncation (about a millisecond here).
func writeBootID(l layout) error {
	if _, err := os.Lstat(l.bootID()); err == nil {
		return nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	id := fmt.Sprintf("%x-%x-%x-%x-%x\n", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	return os.WriteFile(l.bootID(), []byte(id), 0o644)
}

// kernelOps are the kernel-facing folders of every sandbox: a private /dev (a few host device
// nodes, its own pts and shm), its own /proc with Docker's masks, a read-only /sys, and /run.
func kernelOps() []boxinit.Op {
	var ops []boxinit.Op
	ops = append(ops, boxinit.Op{Op: boxinit.OpTmpfs, Target: "/dev", Mode: 0o755})
	for _, n := range devNodes {
		ops = append(ops, boxinit.Op{Op: boxinit.OpBind, Source: "/dev/" + n, Target: "/dev/" + n, File: true})
	}
	ops = append(ops,
		boxinit.Op{Op: boxinit.OpDevpts, Target: "/dev/pts"},
		boxinit.Op{Op: boxinit.OpSymlink, Target: "/dev/ptmx", Link: "pts/ptmx"},
		boxinit.Op{Op: boxinit.OpTmpfs, Target: "/dev/shm", Mode: 0o1777},
		boxinit.Op{Op: boxinit.OpSymlink, Target: "/dev/fd", Link: "/proc/self/fd"},
		boxinit.Op{Op: boxinit.OpSymlink, Target: "/dev/stdin", Link: "/proc/self/fd/0"},
		boxinit.Op{Op: boxinit.OpSymlink, Target: "/dev/stdout", Link: "/proc/self/fd/1"},
		boxinit.Op{Op: boxinit.OpSymlink, Target: "/dev/stderr", Link: "/proc/self/fd/2"},
		boxinit.Op{Op: boxinit.OpProc, Target: "/proc"},
		boxinit.Op{Op: boxinit.OpSysfs, Target: "/sys"},
	)
	for _, p := range procMasked {
		ops = append(ops, boxinit.Op{Op: boxinit.OpMask, Target: p})
	}
	for _, p := range procReadOnly {
		ops = append(ops, boxinit.Op{Op: boxinit.OpRebind, Target: p})
	}
	ops = append(ops,
		boxinit.Op{Op: boxinit.OpTmpfs, Target: "/run", Mode: 0o755},
		boxinit.Op{Op: boxinit.OpMkdir, Target: "/run/lock", Mode: 0o1777},
	)
	return ops
}

// mountOps are the sandbox's workspaces, volumes and agent mounts at their targets (shallowest
// first), then what it must not see.
func mountOps(sb *backend.Sandbox) []boxinit.Op {
	var ops []boxinit.Op
	mounts := append([]backend.Mount{}, sb.Spec.Mounts...)
	sort.SliceStable(mounts, func(i, j int) bool { return depth(mounts[i].Target) < depth(mounts[j].Target) })
	for _, m := range mounts {
		if m.Target == "/" {
			continue
		}
		// Resolved on the host: an OCI sandbox's init reaches sources from inside its new root,
		// where an absolute symlink on the way would point into the image.
		// A folder the user named (recorded) is opened without following symlinks at all.
		src := m.Source
		if m.ID.Zero() {
			if r, err := filepath.EvalSymlinks(src); err == nil {
				src = r
			}
		}
		st, err := os.Stat(src)
		target := m.Target
		if m.Kind == backend.KindDockerSock {
			target = DockerSocketPath // /var/run is a link to /run
		}
		ops = append(ops, boxinit.Op{Op: boxinit.OpBind, Source: src, Target: target,
			ReadOnly: m.ReadOnly, File: err == nil && !st.IsDir(), Idmap: true, OwnerIsUser: m.Kind != backend.KindDockerSock, ID: m.ID})
	}
	for _, h := range sb.Spec.Hide {
		ops = append(ops, boxinit.Op{Op: boxinit.OpMask, Target: h})
	}
	return ops
}

// RootIsWorkspace reports whether the sandbox's workspace is the host's / (allowed with --force).
func RootIsWorkspace(sb *backend.Sandbox) bool {
	for _, m := range sb.Spec.Mounts {
		if filepath.Clean(m.Target) == "/" {
			return true
		}
	}
	return false
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// writablePaths are where a host-template sandbox may write (Landlock's allowlist): its private
// layers, /dev and /proc, and its read-write mounts.
func writablePaths(sb *backend.Sandbox) []string {
	if RootIsWorkspace(sb) || IsOCI(sb) {
		// An OCI sandbox's root is its own overlay: all of it is writable.
		return []string{"/"}
	}
	w := []string{HomeDir, "/tmp", "/var", "/run", "/dev", "/proc"}
	for _, m := range sb.Spec.Mounts {
		if !m.ReadOnly {
			w = append(w, m.Target)
		}
	}
	return w
}

// baseEnv is the environment every process in a host-template sandbox starts with.
func baseEnv(sb *backend.Sandbox) []string {
	path := HomeDir + "/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	host := hostPath(sb)
	if len(host) > 0 {
		path += ":" + strings.Join(host, ":")
	}
	env := []string{
		"PATH=" + path,
		"HOME=" + HomeDir, "USER=root", "LOGNAME=root", "HOSTNAME=" + sb.Spec.Hostname,
		"SHELL=/bin/sh", "LANG=C.UTF-8",
		// /usr is read-only: user-level installs go to the persistent home.
		"NPM_CONFIG_PREFIX=" + HomeDir + "/.local", "PIP_BREAK_SYSTEM_PACKAGES=1",
		"PADDOCK_SANDBOX=" + sb.Name, "container=paddock",
	}
	if _, err := os.Stat("/bin/bash"); err == nil {
		env[5] = "SHELL=/bin/bash"
	}
	if len(host) > 0 {
		// A login shell's /etc/profile resets PATH; the home's .profile adds these back.
		env = append(env, HostPathEnv+"="+strings.Join(host, ":"))
	}
	return append(append(backend.WithAgentEnv(sb.Spec, env), egressEnv(sb)...), sb.Spec.Env...)
}

// HostPathEnv holds, in a host-template sandbox, the folders of the user's PATH it shows.
const HostPathEnv = "PADDOCK_HOST_PATH"

// standardPath is in every sandbox's PATH already.
var standardPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// hostPath is the folders of the user's PATH that the host template shows, in the user's order:
// those under the host's system folders (/usr, /opt, ...) or a workspace, that exist. Folders of
// the user's home (the sandbox has its own), relative entries and anything the sandbox does not
// show are left out.
func hostPath(sb *backend.Sandbox) []string {
	if IsOCI(sb) {
		return nil
	}
	var out []string
	for _, d := range sb.Spec.HostPath {
		if !filepath.IsAbs(d) || strings.ContainsAny(d, ":\n") {
			continue
		}
		d = filepath.Clean(d)
		if slices.Contains(standardPath, d) || slices.Contains(out, d) {
			continue
		}
		top, _, _ := strings.Cut(strings.TrimPrefix(d, "/"), "/")
		shown := top != "etc" && slices.Contains(hostSystemDirs, top)
		for _, mt := range sb.Spec.Mounts {
			if mt.Kind == backend.KindWorkspace && (d == mt.Target || strings.HasPrefix(d, mt.Target+"/")) {
				shown = true
			}
		}
		if st, err := os.Stat(d); !shown || err != nil || !st.IsDir() {
			continue
		}
		out = append(out, d)
	}
	return out
}

// egressEnv points the sandbox's tools at the egress proxy (none without one).
func egressEnv(sb *backend.Sandbox) []string {
	if sb.Spec.Egress == nil {
		return nil
	}
	return egress.Env(sb.Spec.Egress.ProxyPort)
}

// egressOps show the sandbox its CA bundle and paddock's binary (ssh's ProxyCommand for git over
// ssh through the proxy), under /run/paddock.
func egressOps(sb *backend.Sandbox) []boxinit.Op {
	if sb.Spec.Egress == nil {
		return nil
	}
	ops := []boxinit.Op{fileOp(newLayout(sb.Dir).caBundle(), egress.CABundlePath)}
	if exe, err := os.Executable(); err == nil {
		// Bound from the shared copy (helper_linux.go), whose path does not say where paddock
		// is installed; from the binary itself where there is none.
		// The copy is bound as it is, not idmapped: /run is a tmpfs on most hosts, which has
		// idmapped mounts only from Linux 6.3; inside, it is nobody's, world-executable.
		op := boxinit.Op{Op: boxinit.OpBind, Source: exe, Target: egress.ConnectHelperPath, ReadOnly: true, File: true, Idmap: true}
		if h, ok := helperCopy(exe); ok {
			op.Source, op.Idmap = h, false
		}
		ops = append(ops, op)
	}
	return ops
}

// ReservedTarget reports whether a mount target would cover a folder the engine manages.
func ReservedTarget(target string) bool {
	t := filepath.Clean(target)
	for _, r := range reservedTargets {
		if t == r || (r != "/" && strings.HasPrefix(r, t+"/")) || t == "/" {
			return true
		}
		if r != "/" && strings.HasPrefix(t, r+"/") && r != "/run" {
			return true
		}
	}
	return false
}
