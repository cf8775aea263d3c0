package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/batchsched"
	"github.com/paddockhq/paddock/internal/boxinit"
	"github.com/paddockhq/paddock/internal/cgroups"
	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/execproto"
	"github.com/paddockhq/paddock/internal/hostpath"
	"github.com/paddockhq/paddock/internal/idmap"
	"github.com/paddockhq/paddock/internal/memtrim"
	"github.com/paddockhq/paddock/internal/systemd"
)

// busy is what a supervisor reports when another one already runs the sandbox.
const busy = "busy"

// ReadyFD is the descriptor on which the supervisor reports "ok" or the reason it failed.
const ReadyFD = 3

// LockFD is the supervisor's lifetime lock (supervisor.lock), taken by the CLI that starts it.
const LockFD = 4

// Root-mode id mapping: ids 0-65535 inside the sandbox are these host ids, so root inside is
// never root outside. Idmapped mounts make workspace and state files keep their host owners.
const (
	rootModeBase = idmap.RootBase
	rootModeSize = idmap.RootSize
)

// runtimeState is what the supervisor records about the running sandbox.
type runtimeState struct {
	SupervisorPID   int                 `json:"supervisor_pid"`
	SupervisorStart uint64              `json:"supervisor_start"`
	InitPID         int                 `json:"init_pid"`
	StartedAt       time.Time           `json:"started_at"`
	FinishedAt      time.Time           `json:"finished_at,omitzero"`
	ExitReason      string              `json:"exit_reason,omitempty"`
	Rootless        bool                `json:"rootless"`
	UIDMap          string              `json:"uid_map"`
	Enforced        cgroups.Enforcement `json:"limits_enforced"`
	Limits          backend.Limits      `json:"limits"`
	ID              string              `json:"id"`
	Applied         cgroups.Limits      `json:"limits_applied"`
	Protections     boxinit.Protections `json:"protections"`
}

// sameFile reports whether f is the file at path.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// SuperviseMain is the hidden supervisor command: it starts the sandbox's init in new namespaces,
// reports readiness on ReadyFD, and stays until the init ends.
func SuperviseMain(dir string) int {
	// Pdeathsig of the init is tied to this thread: keep it for the life of the process.
	runtime.LockOSThread()
	// In the caller's session (see start): a closing terminal must not end the sandbox. Caught,
	// not ignored: an ignored SIGHUP would be inherited by the init and everything it runs, and
	// the init hangs up a process whose caller went away.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	debug.SetGCPercent(50)
	ready := os.NewFile(ReadyFD, "ready")
	report := func(err error) int {
		if err != nil {
			fmt.Fprintf(ready, "error: %v\n", err)
		} else {
			fmt.Fprintln(ready, "ok")
		}
		ready.Close()
		if err != nil {
			slog.Error("start failed", "err", err)
			return 1
		}
		return 0
	}
	l := newLayout(dir)
	// One supervisor per sandbox, for as long as it lives. The CLI that starts it takes the lock
	// before spawning it and hands it over (LockFD, the same open file): from the moment this
	// process exists, a stop or a second start sees the sandbox as busy, even if that CLI is
	// killed right away. A supervisor without it (another was starting) steps back.
	lock := os.NewFile(LockFD, "supervisor.lock")
	if lock == nil || !sameFile(lock, l.supervisorLock()) {
		fmt.Fprintln(ready, busy)
		ready.Close()
		return 0
	}
	syscall.CloseOnExec(LockFD) // the init must not hold it
	// Referenced until the supervisor returns: a collected *os.File would close the descriptor
	// and drop the lock.
	defer lock.Close()
	var sb backend.Sandbox
	if err := readJSON(l.spec(), &sb); err != nil {
		return report(err)
	}
	// Published ports listen before anything starts: one in use fails the start at once.
	ports, err := publishPorts(l, sb.Spec.Ports)
	if err != nil {
		return report(err)
	}
	sv, err := startInit(&sb, l)
	if err != nil {
		return report(err)
	}
	// The supervisor's remaining work is the egress proxy (see batchsched). After the init has
	// started: children inherit the policy, and the sandbox's processes keep the default one.
	if err := batchsched.Process(); err != nil {
		slog.Warn("batch scheduling", "err", err)
	}
	serveControl(context.Background(), l, ports)
	report(nil)
	memtrim.Keep(5 * time.Second)
	return sv.run()
}

type supervised struct {
	l     layout
	cmd   *exec.Cmd
	group *cgroups.Group
	state runtimeState
	done  chan error
}

func startInit(sb *backend.Sandbox, l layout) (*supervised, error) {
	rootless := os.Geteuid() != 0
	group, limits, nproc, err := applyLimits(sb)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			group.Remove()
		}
	}()
	os.Remove(l.sock())
	ln, err := listenUnix(l.sock())
	if err != nil {
		return nil, fmt.Errorf("exec socket: %w", err)
	}
	lnFile, err := ln.File()
	ln.Close()
	if err != nil {
		return nil, err
	}
	defer lnFile.Close()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	parentEnd := os.NewFile(uintptr(pair[0]), "control")
	childEnd := os.NewFile(uintptr(pair[1]), "control")
	defer childEnd.Close()
	fc, err := net.FileConn(parentEnd)
	parentEnd.Close()
	if err != nil {
		return nil, err
	}
	ctrl := execproto.NewConn(fc.(*net.UnixConn))

	// The init execs the binary and finds its root folder through descriptors: as root-mode's
	// unprivileged host id it may not be allowed to walk their paths.
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	exeFile, err := os.Open(exe)
	if err != nil {
		return nil, err
	}
	defer exeFile.Close()
	rootDir, err := rootMountpoint(sb, l, rootless)
	if err != nil {
		return nil, err
	}
	uidMap := []syscall.SysProcIDMap{{ContainerID: 0, HostID: rootModeBase, Size: rootModeSize}}
	gidMap := uidMap
	if rootless {
		uidMap = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		gidMap = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	// An ordinary user with subordinate ids gets them mapped too (ids 1-65535 inside), through the
	// setuid newuidmap/newgidmap helpers; the init then waits for its map and re-executes itself
	// to gain root's capabilities in its namespace.
	sub := idmap.Subordinate{}
	var syncW *os.File
	extra := []*os.File{childEnd, lnFile, exeFile}
	env := []string{}
	if rootless {
		sub = idmap.Lookup()
		// An image user (USER agent) is the calling user, so that its files in the workspace
		// and volumes are the user's; the template's layers were unpacked for that mapping.
		if u, ok := backend.LookupImageUser(sb.Spec.Image); ok && sub.OK() && u.UID < sub.UIDCount && u.GID > 0 && u.GID < sub.GIDCount {
			sub.AsUID, sub.AsGID = u.UID, u.GID
		}
	}
	sys := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
			syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		UidMappings:                uidMap,
		GidMappings:                gidMap,
		GidMappingsEnableSetgroups: !rootless,
		Credential:                 &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: rootless},
		Pdeathsig:                  syscall.SIGKILL,
		// No controlling terminal in the sandbox: the supervisor shares the caller's session.
		Setsid: true,
	}
	if sub.OK() {
		syncR, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		defer syncR.Close()
		defer w.Close()
		syncW = w
		extra = append(extra, syncR)
		env = append(env, boxinit.ReexecEnv+"=1")
		sys.UidMappings, sys.GidMappings, sys.Credential = nil, nil, nil
		// Kept across the first exec: the init becomes root of its namespace once mapped, also
		// when the user is an image's non-root user there.
		sys.AmbientCaps = []uintptr{unix.CAP_SETUID, unix.CAP_SETGID}
	}
	cmd := &exec.Cmd{
		Path:        fmt.Sprintf("/proc/self/fd/%d", boxinit.ExeFD),
		Args:        []string{"paddock-init", "__init"},
		Env:         env,
		Stdout:      os.Stderr,
		Stderr:      os.Stderr,
		ExtraFiles:  extra,
		SysProcAttr: sys,
	}
	if err := cmd.Start(); err != nil {
		if rootless && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENOSPC)) {
			return nil, fmt.Errorf("this host does not let ordinary users create user namespaces (%v): enable them "+
				"(sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 also allow them for paddock in AppArmor or set "+
				"kernel.apparmor_restrict_unprivileged_userns=0; check user.max_user_namespaces), or run paddock as root", err)
		}
		return nil, fmt.Errorf("starting the sandbox init in new namespaces: %w", err)
	}
	// The init has its copies: ours must go, or the control socket never reports its death.
	for _, f := range extra {
		f.Close()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	fail := func(err error) (*supervised, error) {
		cmd.Process.Kill()
		<-done
		return nil, err
	}
	mapDesc := formatMap(uidMap)
	if sub.OK() {
		if err := sub.Apply(cmd.Process.Pid); err != nil {
			return fail(err)
		}
		syncW.Write([]byte{1})
		syncW.Close()
		mapDesc = sub.Describe()
	}
	if err := group.Add(cmd.Process.Pid); err != nil {
		return fail(fmt.Errorf("placing the sandbox in its cgroup: %w", err))
	}
	var ops []boxinit.Op
	var overlay *boxinit.Overlay
	envOf := baseEnv
	if IsOCI(sb) {
		ops, envOf = ociPlan(sb), ociEnv
		if overlay, err = ociOverlay(sb, l, rootless); err != nil {
			return fail(err)
		}
	} else {
		ops = hostPlan(sb, "/")
	}
	var fds []*os.File
	defer func() {
		for _, f := range fds {
			f.Close()
		}
	}()
	if !rootless {
		var user *backend.ImageUser
		if u, ok := backend.LookupImageUser(sb.Spec.Image); ok && u.UID < rootModeSize && u.GID < rootModeSize {
			user = &u
		}
		if fds, err = idmapMounts(cmd.Process.Pid, ops, user); err != nil {
			return fail(err)
		}
		if overlay != nil {
			// Root mode: the init (an unprivileged host id) cannot reach the layers under
			// PADDOCK_HOME, so host root mounts the overlay and hands it over like the binds.
			fd, err := boxinit.OverlayMount(overlay.Lower, overlay.Upper, overlay.Work, false)
			if err != nil {
				return fail(err)
			}
			fds = append(fds, os.NewFile(uintptr(fd), "overlay"))
			overlay = &boxinit.Overlay{FD: len(fds)}
		}
	}
	if fds, err = openFiles(ops, fds); err != nil {
		return fail(err)
	}
	egressPort := 0
	if sb.Spec.Egress != nil {
		egressPort = sb.Spec.Egress.ProxyPort
	}
	cfg := boxinit.Config{Root: rootDir, Hostname: sb.Spec.Hostname, Ops: ops, Env: envOf(sb), Workdir: sb.Spec.Workdir,
		EgressPort: egressPort,
		SealRoot:   !RootIsWorkspace(sb) && !IsOCI(sb), Overlay: overlay,
		Hardening: boxinit.Hardening{SetuidReason: setuidReason(sb), Seccomp: true, Landlock: true, Writable: writablePaths(sb), Nproc: uint64(nproc)}}
	payload, _ := json.Marshal(cfg)
	if err := ctrl.Send(execproto.Message{Type: execproto.TypeConfig, Payload: payload}, fds...); err != nil {
		return fail(fmt.Errorf("configuring the sandbox init: %w", err))
	}
	type readyMsg struct {
		m   execproto.Message
		fds []int
	}
	reply := make(chan readyMsg, 1)
	go func() {
		m, extra, err := ctrl.Recv()
		if err != nil {
			m = execproto.Message{Type: execproto.TypeError, Message: "the sandbox init ended during setup (see " + l.log() + ")"}
		}
		reply <- readyMsg{m, extra}
	}()
	var prot boxinit.Protections
	var handed []int
	select {
	case r := <-reply:
		handed = r.fds
		if r.m.Type != execproto.TypeReady {
			closeFDs(handed)
			return fail(fmt.Errorf("setting up the sandbox: %s", r.m.Message))
		}
		json.Unmarshal(r.m.Payload, &prot)
	case <-time.After(30 * time.Second):
		return fail(errors.New("the sandbox init did not become ready within 30s"))
	}
	// The egress proxy serves the listener the init made inside the sandbox's network namespace;
	// without it the sandbox does not start (never fail open).
	if eg := sb.Spec.Egress; eg != nil {
		if len(handed) != 1 {
			closeFDs(handed)
			return fail(errors.New("the sandbox init did not hand over the egress proxy's listener"))
		}
		f := os.NewFile(uintptr(handed[0]), "egress")
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return fail(fmt.Errorf("egress proxy listener: %w", err))
		}
		p, err := egress.New(egress.Options{Home: eg.Home, StateDir: sb.Dir, SandboxID: sb.ID, Sandbox: sb.Name,
			Preset: eg.Policy, Logger: slog.Default(), Upstream: eg.Upstream})
		if err != nil {
			ln.Close()
			return fail(fmt.Errorf("starting the egress proxy: %w", err))
		}
		go func() {
			err := p.Serve(context.Background(), ln)
			slog.Error("the egress proxy stopped; the sandbox has no network", "err", err)
		}()
	} else {
		closeFDs(handed)
	}
	ok = true
	st := runtimeState{
		ID: sb.ID, SupervisorPID: os.Getpid(), SupervisorStart: procStartTime(os.Getpid()), InitPID: cmd.Process.Pid,
		StartedAt: time.Now().UTC(), Rootless: rootless, UIDMap: mapDesc,
		Enforced: group.Enforcement(), Limits: sb.Spec.Limits, Applied: limits, Protections: prot,
	}
	if err := writeJSON(l.state(), st); err != nil {
		return fail(err)
	}
	// The control socket stays open: its closing tells the init that the supervisor is gone.
	go func() {
		for {
			if _, fds, err := ctrl.Recv(); err != nil {
				return
			} else {
				closeFDs(fds)
			}
		}
	}()
	return &supervised{l: l, cmd: cmd, group: group, state: st, done: done}, nil
}

// run waits for the init to end (or for a stop request), then cleans up.
func (s *supervised) run() int {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	reason := ""
	for reason == "" {
		select {
		case sig := <-sigs:
			slog.Info("stopping", "signal", sig)
			s.cmd.Process.Signal(syscall.SIGTERM)
			reason = "stopped"
			<-s.done
		case err := <-s.done:
			reason = "init exited"
			if err != nil {
				reason = "init exited: " + err.Error()
			}
			if n, _ := s.group.OOMKills(); n > 0 {
				reason += " (out of memory)"
			}
		}
	}
	s.group.Remove()
	os.Remove(s.l.sock())
	stopControl(s.l)
	if !s.state.Rootless {
		os.RemoveAll(runDir(s.state.ID))
	}
	s.state.FinishedAt = time.Now().UTC()
	s.state.ExitReason = reason
	writeJSON(s.l.state(), s.state)
	return 0
}

// applyLimits puts the sandbox in a cgroup with its limits: those asked for, else the defaults.
// A limit that was asked for and cannot be enforced is refused; so are the default memory and CPU
// limits, unless the sandbox was started with --unsafe-no-limits. Without a pids cgroup, the
// process limit falls back to RLIMIT_NPROC (returned as nproc).
func applyLimits(sb *backend.Sandbox) (*cgroups.Group, cgroups.Limits, int64, error) {
	req := sb.Spec.Limits
	d := DefaultLimits()
	limits := cgroups.Limits{CPUs: req.CPUs, MemoryBytes: req.MemoryBytes, Pids: req.Pids}
	switch {
	case limits.CPUs == backend.AllCPUs:
		limits.CPUs = 0
	case limits.CPUs == 0:
		limits.CPUs = d.CPUs
	}
	if limits.MemoryBytes == 0 {
		limits.MemoryBytes = d.MemoryBytes
	}
	if limits.Pids == 0 {
		limits.Pids = d.Pids
	}
	create := func(l cgroups.Limits) (*cgroups.Group, error) { return cgroups.Create(sb.ID, l) }
	why := func() string { return cgroups.Probe().Reason }
	scoped, err := startScope(sb)
	if err != nil {
		slog.Warn("no systemd scope for the sandbox; its cgroup is made without one", "err", err)
	} else if scoped {
		// In its own scope with a delegated subtree: the supervisor goes to a leaf with the host
		// side's own limits, the sandbox to another.
		var delegErr error
		create = func(l cgroups.Limits) (*cgroups.Group, error) {
			g, _, err := cgroups.CreateDelegated(sb.ID, l, cgroups.HostLimits)
			delegErr = err
			return g, err
		}
		why = func() string { return delegErr.Error() }
	}
	if !scoped {
		// The host side's own limits, in a group beside the sandbox's (a scope has its own leaf).
		if sup, err := cgroups.CreateHost(sb.ID, cgroups.HostLimits); err != nil {
			slog.Warn("the supervisor runs without limits of its own", "err", err)
		} else if err := sup.Add(os.Getpid()); err != nil {
			slog.Warn("the supervisor runs without limits of its own", "err", err)
		}
	}
	group, err := create(limits)
	if errors.Is(err, cgroups.ErrUnavailable) && (req.CPUs == 0 || req.CPUs == backend.AllCPUs) && req.MemoryBytes == 0 {
		if !sb.Spec.UnsafeNoLimits {
			return nil, limits, 0, fmt.Errorf("this host cannot limit the sandbox's memory and CPU (%s); "+
				"pass --unsafe-no-limits (or set PADDOCK_UNSAFE_NO_LIMITS=1) to run it without those limits anyway", strings.TrimSuffix(why(), "."))
		}
		limits.CPUs, limits.MemoryBytes = 0, 0
		group, err = create(limits)
	}
	if err != nil {
		return nil, limits, 0, fmt.Errorf("applying limits: %w", err)
	}
	var nproc int64
	if !group.Enforcement().Pids {
		// RLIMIT_NPROC is counted per user namespace: it bounds the sandbox's own processes.
		nproc = limits.Pids
	}
	return group, limits, nproc, nil
}

// ociOverlay describes the overlay root of an OCI sandbox: the template's layers (top first)
// under the sandbox's persistent upper folder, owned by the sandbox's root (host 1<<30 in root
// mode, the user rootless).
func ociOverlay(sb *backend.Sandbox, l layout, rootless bool) (*boxinit.Overlay, error) {
	img := sb.Spec.Image
	ov := &boxinit.Overlay{Upper: l.upper(), Work: l.work()}
	for i := len(img.LayerDirs) - 1; i >= 0; i-- {
		ov.Lower = append(ov.Lower, img.LayerDirs[i])
	}
	if !rootless {
		for _, d := range []string{ov.Upper, ov.Work} {
			if err := os.Lchown(d, rootModeBase, rootModeBase); err != nil {
				return nil, err
			}
		}
	}
	return ov, nil
}

// rootMountpoint is the empty folder the init builds the root on. The init must reach it by
// path; as root mode's unprivileged host id it cannot walk into PADDOCK_HOME (under /root, say),
// so root mode uses a folder under /run/paddock instead.
func rootMountpoint(sb *backend.Sandbox, l layout, rootless bool) (string, error) {
	if rootless {
		return l.root(), nil
	}
	d := filepath.Join(runDir(sb.ID), "root")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", d, err)
	}
	return d, nil
}

func runDir(id string) string { return filepath.Join("/run/paddock", id[:12]) }

// idmapMounts prepares the binds marked Idmap as detached mounts idmapped through the init's user
// namespace, so ids on disk appear unchanged inside (host root's files are root's inside) while
// the sandbox's root is an unprivileged id on the host. With an image user (USER agent), binds
// marked OwnerIsUser are idmapped so that their owner on disk is that user inside instead, and
// that user's files land on disk as the owner (see ownerUserns).
func idmapMounts(pid int, ops []boxinit.Op, user *backend.ImageUser) ([]*os.File, error) {
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	owned := map[[2]int]*os.File{}
	defer func() {
		for _, f := range owned {
			f.Close()
		}
	}()
	var files []*os.File
	for i := range ops {
		op := &ops[i]
		if op.Op != boxinit.OpBind || !op.Idmap {
			continue
		}
		userns := ns
		// The user's folders: opened without following symlinks, and that folder is mounted.
		src, err := openSource(op)
		if err != nil {
			closeFiles(files)
			return nil, err
		}
		dirfd, path, empty := unix.AT_FDCWD, op.Source, 0
		if src != nil {
			dirfd, path, empty = int(src.Fd()), "", unix.AT_EMPTY_PATH
		}
		if op.OwnerIsUser && user != nil {
			var st unix.Stat_t
			if err := unix.Fstatat(dirfd, path, &st, empty); err != nil {
				src.Close()
				closeFiles(files)
				return nil, fmt.Errorf("%s: %w", op.Source, err)
			}
			key := [2]int{int(st.Uid), int(st.Gid)}
			if key == [2]int{user.UID, user.GID} {
				// Owned by the image user's own ids already: the sandbox's mapping shows it so.
			} else if owned[key] == nil {
				f, err := ownerUserns(key[0], key[1], user.UID, user.GID)
				if err != nil {
					src.Close()
					closeFiles(files)
					return nil, err
				}
				owned[key] = f
			}
			if f := owned[key]; f != nil {
				userns = f
			}
		}
		rec := unix.AT_RECURSIVE
		if op.Shallow {
			rec = 0
		}
		fd, err := unix.OpenTree(dirfd, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|uint(empty)|uint(rec))
		src.Close()
		if err != nil {
			closeFiles(files)
			return nil, fmt.Errorf("cloning %s: %w", op.Source, err)
		}
		// Private: a clone keeps the source's peer group, and mounts made on it inside the
		// sandbox would propagate to the host (see boxinit's bind, which makes it so again).
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd()), Propagation: unix.MS_PRIVATE}
		if err := unix.MountSetattr(fd, "", uint(unix.AT_EMPTY_PATH|rec), &attr); err != nil {
			unix.Close(fd)
			closeFiles(files)
			return nil, fmt.Errorf("%s: its filesystem does not support idmapped mounts, which paddock needs when it runs as root (run paddock as an ordinary user instead): %w", op.Source, err)
		}
		files = append(files, os.NewFile(uintptr(fd), op.Source))
		op.FD = len(files)
	}
	return files, nil
}

// openSource opens the source of a bind marked with the identity of a folder the user named, as
// an O_PATH descriptor, without following symlinks in any component, and refuses it unless it is
// still that folder (see boxinit.Op.ID). Other sources (paddock's own) are cloned by path: nil.
func openSource(op *boxinit.Op) (*os.File, error) {
	if op.ID.Zero() {
		return nil, nil
	}
	return hostpath.OpenSame(op.Source, op.ID)
}

// ownerUserns returns a user namespace for an idmapped mount on which disk uid w (gid wg) is the
// sandbox's u (g): files of the image user land on disk as the folder's owner. Every other id
// reads as in root mode (sandbox id n is disk id n), except that the sandbox's own w (root when
// the folder is root's) writes as the unprivileged host id 1<<30+w, and disk u (another host
// user's files) reads as nobody: no sandbox id may stand for the owner twice.
func ownerUserns(w, wg, u, g int) (*os.File, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, HoldCommand)
	cmd.Args[0] = "paddock-idmap"
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, Pdeathsig: syscall.SIGKILL,
		UidMappings: ownerMap(w, u), GidMappings: ownerMap(wg, g)}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("a user namespace for the image user's idmapped mounts: %w", err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
	in.Close()
	cmd.Wait()
	if err != nil {
		return nil, fmt.Errorf("a user namespace for the image user's idmapped mounts: %w", err)
	}
	return f, nil
}

// ownerMap is the id map of ownerUserns (namespace id = disk id, host id = sandbox id shifted
// by rootModeBase): disk w is sandbox u, disk rootModeBase+w is sandbox w, disk u is unmapped,
// any other disk n < rootModeSize is sandbox n.
func ownerMap(w, u int) []syscall.SysProcIDMap {
	var m []syscall.SysProcIDMap
	ident := func(from, to int) { // disk ids [from, to) as themselves
		if to > from {
			m = append(m, syscall.SysProcIDMap{ContainerID: from, HostID: rootModeBase + from, Size: to - from})
		}
	}
	if w == u {
		ident(0, rootModeSize)
		return m
	}
	holes := []int{u}
	if w < rootModeSize {
		holes = append(holes, w)
	}
	slices.Sort(holes)
	prev := 0
	for _, h := range holes {
		ident(prev, h)
		prev = h + 1
	}
	ident(prev, rootModeSize)
	m = append(m, syscall.SysProcIDMap{ContainerID: w, HostID: rootModeBase + u, Size: 1})
	if w < rootModeSize {
		m = append(m, syscall.SysProcIDMap{ContainerID: rootModeBase + w, HostID: rootModeBase + w, Size: 1})
	}
	return m
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// openFiles opens the files of the plan's OpFile steps (paddock's own, in the sandbox's state
// folder) and appends them to the descriptors sent with the config: the init copies them in the
// kernel, which costs far less than their bytes in the config (a CA bundle is a few hundred KiB).
func openFiles(ops []boxinit.Op, fds []*os.File) ([]*os.File, error) {
	for i := range ops {
		if ops[i].Op != boxinit.OpFile {
			continue
		}
		f, err := os.OpenFile(ops[i].Source, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fds, fmt.Errorf("showing %s: %w", ops[i].Target, err)
		}
		fds = append(fds, f)
		ops[i].FD = len(fds)
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func formatMap(m []syscall.SysProcIDMap) string {
	if len(m) == 0 {
		return ""
	}
	return fmt.Sprintf("%d %d %d", m[0].ContainerID, m[0].HostID, m[0].Size)
}

// listenUnix listens on a unix socket, also when its path is longer than sun_path allows.
func listenUnix(path string) (*net.UnixListener, error) {
	addr := path
	if len(path) > 100 {
		dir, err := os.Open(dirOf(path))
		if err != nil {
			return nil, err
		}
		defer dir.Close()
		addr = fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), baseOf(path))
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	return ln, nil
}

// procStartTime is a live process's start time in clock ticks since boot, which tells it from a
// recycled pid; 0 if it is gone or a zombie (exited, waiting to be reaped).
func procStartTime(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is the state (field 3), f[19] the start time (field 22).
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// startScope puts the supervisor in a transient systemd scope of its own (Delegate=yes), asked
// of the system manager as root and of the user's manager otherwise, where systemd runs the host
// with the unified cgroup hierarchy: limits then work from any login shell, and `systemctl
// [--user] status paddock.slice` shows the sandboxes. false without systemd (the cgroup is made
// as before); an error if systemd is there but refused.
func startScope(sb *backend.Sandbox) (bool, error) {
	if !systemd.Booted() || !cgroups.UnifiedV2() {
		return false, nil
	}
	if os.Geteuid() != 0 {
		if err := systemd.UserManager(); err != nil {
			return false, err
		}
	}
	err := systemd.StartScope(context.Background(), cgroups.ScopeUnit(sb.ID), "paddock sandbox "+sb.Name, os.Getpid())
	return err == nil, err
}
