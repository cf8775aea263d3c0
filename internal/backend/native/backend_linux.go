package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paddockhq/paddock/internal/flock"
	"github.com/paddockhq/paddock/internal/handover"
	"github.com/paddockhq/paddock/internal/image"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/cgroups"
	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/execproto"
	"github.com/paddockhq/paddock/internal/fsutil"
	"github.com/paddockhq/paddock/internal/systemd"
)

// Backend is the native engine: namespaces, mounts and cgroups driven by paddock itself.
type Backend struct {
	// Quiet: Start neither prints nor changes host settings for the user (doctor's trial).
	Quiet bool
}

// New returns the native engine.
func New() *Backend { return &Backend{} }

// Name implements backend.Backend.
func (*Backend) Name() string { return "native" }

// prepare creates the sandbox's persistent layers on first start and refreshes its small
// generated files on every start.
func prepare(sb *backend.Sandbox) error {
	l := newLayout(sb.Dir)
	// The sandbox's own folders (not visible inside, or mount points it cannot replace): made
	// and kept at their modes.
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{l.root(), 0o755}, {filepath.Join(sb.Dir, "etc"), 0o755}, {l.tmp(), 0o777 | os.ModeSticky}, {l.vardir(), 0o755}} {
		if err := ensureDir(d.path, d.mode); err != nil {
			return err
		}
		os.Chmod(d.path, d.mode)
	}
	// Folders under /var belong to the agent once made: create what is missing, never follow or
	// change what is there (a symlink the agent planted must not make paddock write outside).
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{filepath.Join(l.vardir(), "tmp"), 0o777 | os.ModeSticky}, {filepath.Join(l.vardir(), "cache"), 0o755},
		{filepath.Join(l.vardir(), "lib"), 0o755}} {
		if _, err := os.Lstat(d.path); errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(d.path, d.mode); err != nil {
				return err
			}
			os.Chmod(d.path, d.mode)
		}
	}
	for _, s := range []struct{ name, target string }{{"run", "/run"}, {"lock", "/run/lock"}} {
		os.Symlink(s.target, filepath.Join(l.vardir(), s.name))
	}
	if err := os.Mkdir(l.home(), 0o700); err == nil {
		seedHome(l.home())
	} else if !errors.Is(err, fs.ErrExist) {
		return err
	} else {
		addProfileHostPath(l.home())
	}
	if err := os.WriteFile(l.etc("hostname"), []byte(sb.Spec.Hostname+"\n"), 0o644); err != nil {
		return err
	}
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", sb.Spec.Hostname)
	if err := os.WriteFile(l.etc("hosts"), []byte(hosts), 0o644); err != nil {
		return err
	}
	return setGitIdentity(filepath.Join(l.home(), ".gitconfig"), sb.Spec.GitName, sb.Spec.GitEmail)
}

// prepareOCI creates the persistent upper and work folders of an OCI sandbox's overlay root and
// refreshes its /etc/hostname and /etc/hosts (bound over the image's).
//
// An upper folder made over another image (the sandbox was re-created from a new one) is
// started afresh: the old image's changes (a copied-up package database, say) would hide the
// new image's files.
func (b *Backend) prepareOCI(sb *backend.Sandbox) error {
	l := newLayout(sb.Dir)
	img := sb.Spec.Image
	for _, d := range img.LayerDirs {
		if _, err := os.Stat(d); err != nil {
			return fmt.Errorf("the layers of template %s (%s) are no longer in the template cache: pull it again (`paddock template pull %s`), or re-create the sandbox",
				img.Ref, img.Digest, img.Ref)
		}
	}
	made := filepath.Join(sb.Dir, "upper.digest")
	if was, err := os.ReadFile(made); err == nil && string(was) != img.Digest && !flock.Held(l.supervisorLock()) {
		if os.Geteuid() != 0 {
			// Files of the sandbox's other ids (where its users wrote): removed in a user
			// namespace mapped like the sandbox.
			if err := image.RemoveOwned(l.upper(), l.work()); err != nil {
				return err
			}
		}
		for _, d := range []string{l.upper(), l.work()} {
			if err := fsutil.RemoveTree(d); err != nil {
				return err
			}
		}
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{l.root(), 0o755}, {filepath.Join(sb.Dir, "etc"), 0o755}, {l.upper(), 0o755}, {l.work(), 0o700}} {
		if err := ensureDir(d.path, d.mode); err != nil {
			return err
		}
	}
	if err := os.WriteFile(made, []byte(img.Digest), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(l.etc("hostname"), []byte(sb.Spec.Hostname+"\n"), 0o644); err != nil {
		return err
	}
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", sb.Spec.Hostname)
	return os.WriteFile(l.etc("hosts"), []byte(hosts), 0o644)
}

// ensureDir makes path a real folder: a symlink or file in its place (which only the sandbox
// could have put there) is removed first, never followed.
func ensureDir(path string, mode os.FileMode) error {
	st, err := os.Lstat(path)
	switch {
	case err == nil && st.IsDir():
		return nil
	case err == nil:
		if err := os.Remove(path); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return os.Mkdir(path, mode)
}

// seedHome gives a new home the distribution's skeleton files and puts user-level install
// folders on PATH for login shells (whose /etc/profile resets PATH).
func seedHome(home string) {
	if entries, err := os.ReadDir("/etc/skel"); err == nil {
		for _, e := range entries {
			if e.Type().IsRegular() {
				if b, err := os.ReadFile(filepath.Join("/etc/skel", e.Name())); err == nil {
					os.WriteFile(filepath.Join(home, e.Name()), b, 0o644)
				}
			}
		}
	}
	profile := filepath.Join(home, ".profile")
	f, err := os.OpenFile(profile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "\n# paddock: user-level installs (npm -g, pip --user) live in the persistent home\n"+
		"export NPM_CONFIG_PREFIX=\"$HOME/.local\"\ncase \":$PATH:\" in *\":$HOME/.local/bin:\"*) ;; *) PATH=\"$HOME/.local/bin:$PATH\" ;; esac\n")
	f.WriteString(profileHostPath)
	os.MkdirAll(filepath.Join(home, ".local", "bin"), 0o755)
}

// profileHostPath, in a sandbox home's .profile, puts back the user's own tool folders after a
// login shell's /etc/profile has reset PATH.
const profileHostPath = "# paddock: your PATH's folders that the sandbox shows (e.g. /usr/local/go/bin)\n" +
	"for d in $(printf '%s' \"$" + HostPathEnv + "\" | tr ':' ' '); do case \":$PATH:\" in *\":$d:\"*) ;; *) PATH=\"$PATH:$d\" ;; esac; done\n"

// addProfileHostPath adds profileHostPath to a home made before it existed. The home is the
// sandbox's: its .profile is read and appended to beneath it, never through a link; a missing one
// (the user removed it) stays missing.
func addProfileHostPath(home string) {
	b, err := fsutil.ReadFileBeneath(home, ".profile", 1<<20)
	if err != nil || strings.Contains(string(b), HostPathEnv) {
		return
	}
	f, err := fsutil.OpenBeneath(home, ".profile", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		f.WriteString("\n" + profileHostPath)
	}
}

// setGitIdentity writes the host's git identity into the sandbox's global git config. A new
// config is written directly; an existing one (the agent may have added to it) is edited with
// git, and only when the identity changed since the last start.
func setGitIdentity(path, name, email string) error {
	if name == "" && email == "" {
		return nil
	}
	stamp := filepath.Join(filepath.Dir(filepath.Dir(path)), "git-identity")
	want := name + "\n" + email
	if b, err := os.ReadFile(stamp); err == nil && string(b) == want {
		if _, err := os.Lstat(path); err == nil {
			return nil
		}
	}
	// The home belongs to the agent: a .gitconfig that is not a plain file (a symlink planted to
	// make paddock write elsewhere) is replaced, never followed.
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
		if err := os.RemoveAll(path); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		var b strings.Builder
		b.WriteString("[user]\n")
		if name != "" {
			fmt.Fprintf(&b, "\tname = %s\n", gitQuote(name))
		}
		if email != "" {
			fmt.Fprintf(&b, "\temail = %s\n", gitQuote(email))
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
		if err != nil {
			return err
		}
		_, err = f.WriteString(b.String())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	} else {
		// A lock file left in the home (or planted there) would make git refuse; it is ours to drop.
		os.Remove(path + ".lock")
		for _, kv := range [][2]string{{"user.name", name}, {"user.email", email}} {
			if kv[1] == "" {
				continue
			}
			if out, err := exec.Command("git", "config", "--file", path, kv[0], kv[1]).CombinedOutput(); err != nil {
				return fmt.Errorf("setting git %s in the sandbox: %v: %s", kv[0], err, out)
			}
		}
	}
	return os.WriteFile(stamp, []byte(want), 0o600)
}

// gitQuote quotes a git config value.
func gitQuote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(v) + `"`
}

// Start implements backend.Backend.
func (b *Backend) Start(ctx context.Context, sb *backend.Sandbox) error {
	if sb.Spec.Template != "" && sb.Spec.Template != "host" && !IsOCI(sb) {
		return fmt.Errorf("template %q: %w (the sandbox has no image recorded; re-create it)", sb.Spec.Template, backend.ErrUnsupported)
	}
	prep := prepare
	if IsOCI(sb) {
		prep = b.prepareOCI
	}
	if err := setupDisk(sb); err != nil {
		return fmt.Errorf("%w: limiting its disk use: %w", backend.ErrStartFailed, err)
	}
	if err := prep(sb); err != nil {
		return fmt.Errorf("%w: preparing its state: %w", backend.ErrStartFailed, err)
	}
	if err := applyQuota(sb, IsOCI(sb)); err != nil {
		return fmt.Errorf("%w: limiting its disk use: %w", backend.ErrStartFailed, err)
	}
	l := newLayout(sb.Dir)
	if b.waitRunning(ctx, l) {
		return nil
	}
	if err := writeBootID(l); err != nil {
		return fmt.Errorf("%w: preparing its state: %w", backend.ErrStartFailed, err)
	}
	if eg := sb.Spec.Egress; eg != nil {
		if eg.Home == "" || eg.ProxyPort < 1 || eg.ProxyPort > 65535 {
			return fmt.Errorf("%w: its egress proxy settings are incomplete (home %q, port %d)", backend.ErrStartFailed, eg.Home, eg.ProxyPort)
		}
		if err := egress.WriteCABundle(eg.Home, l.caBundle()); err != nil {
			return fmt.Errorf("%w: the egress proxy's CA bundle: %w", backend.ErrStartFailed, err)
		}
	}
	if err := writeJSON(l.spec(), sb); err != nil {
		return err
	}
	exe, err := handover.EnginePath()
	if err != nil {
		return err
	}
	if sb.Spec.Egress != nil {
		ensureHelper(exe)
	}
	logf, err := os.OpenFile(l.log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	// The supervisor's lifetime lock is taken here, before it exists, and handed to it: there is
	// no moment in which a starting sandbox looks stopped (see SuperviseMain).
	lock, err := os.OpenFile(l.supervisorLock(), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := flock.Try(lock); err != nil {
		// Another CLI is starting it, or its supervisor runs.
		if b.waitRunning(ctx, l) {
			return nil
		}
		return fmt.Errorf("%w: another paddock was starting it and gave up (see %s)", backend.ErrStartFailed, l.log())
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(exe, "__supervise", sb.Dir)
	cmd.Args[0] = "paddock-supervisor"
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w, lock} // ReadyFD, LockFD
	// Its own process group, out of reach of the terminal's Ctrl-C, but the caller's session:
	// with the kernel's autogroup scheduling (on by default on desktop kernels) a new session is
	// a scheduling group of its own, and the egress proxy in it was preempting the processes it
	// forwards for at every packet, moving 16 KiB at a time (bulk throughput fell from 0.85 to
	// 0.55 of direct). The init starts a session of its own (below), so nothing in the sandbox
	// shares the caller's terminal; SIGHUP is ignored.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = supervisorEnv()
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("%w: %w", backend.ErrStartFailed, err)
	}
	w.Close()
	// The supervisor holds the lock now; dropping this descriptor lets a supervisor that dies
	// free the sandbox.
	lock.Close()
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	// A supervisor that failed holds the sandbox until it has exited; wait for that, so the
	// caller can clean up a sandbox that never ran.
	failed := func(err error) error {
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
		return err
	}
	msg := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		msg <- strings.TrimSpace(string(b))
	}()
	select {
	case m := <-msg:
		switch {
		case m == "ok":
			b.keepAfterLogout(ctx, sb)
			return nil
		case m == busy:
			if b.waitRunning(ctx, l) {
				return nil
			}
			return fmt.Errorf("%w: another supervisor was starting it and gave up (see %s)", backend.ErrStartFailed, l.log())
		case strings.HasPrefix(m, "error: "):
			return failed(fmt.Errorf("%w: %s", backend.ErrStartFailed, strings.TrimPrefix(m, "error: ")))
		default:
			return failed(fmt.Errorf("%w: the supervisor ended without a word (see %s)", backend.ErrStartFailed, l.log()))
		}
	case <-ctx.Done():
		cmd.Process.Kill()
		return ctx.Err()
	}
}

func supervisorEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" || k == "HOME" || strings.HasPrefix(k, "PADDOCK_") || k == "XDG_RUNTIME_DIR" ||
			k == "DBUS_SESSION_BUS_ADDRESS" {
			env = append(env, kv)
		}
	}
	return env
}

// waitRunning waits while a supervisor holds the sandbox (one a killed CLI left starting it) and
// reports whether the sandbox is running.
func (b *Backend) waitRunning(ctx context.Context, l layout) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, alive := b.readState(&backend.Sandbox{Dir: l.dir}); alive {
			return true
		}
		if !flock.Held(l.supervisorLock()) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

func (b *Backend) readState(sb *backend.Sandbox) (runtimeState, bool) {
	var st runtimeState
	if err := readJSON(newLayout(sb.Dir).state(), &st); err != nil {
		return st, false
	}
	alive := st.SupervisorPID > 0 && st.FinishedAt.IsZero() && procStartTime(st.SupervisorPID) == st.SupervisorStart
	return st, alive
}

// State implements backend.Backend.
func (b *Backend) State(ctx context.Context, sb *backend.Sandbox) (backend.State, error) {
	st, alive := b.readState(sb)
	out := backend.State{Status: "stopped", Rootless: st.Rootless, UIDMap: st.UIDMap, StartedAt: st.StartedAt,
		FinishedAt: st.FinishedAt, ExitReason: st.ExitReason}
	if e := st.Enforced; e.Driver != "" {
		en := &backend.Enforcement{Driver: e.Driver, CPU: e.CPU, Memory: e.Memory, Pids: e.Pids, Reason: e.Reason, Scope: e.Scope}
		if e.CPU {
			en.CPUs = st.Applied.CPUs
		}
		if e.Memory {
			en.MemoryBytes = st.Applied.MemoryBytes
		}
		switch {
		case e.Pids:
			en.PidsMax, en.PidsMethod = st.Applied.Pids, "cgroup"
		case st.Protections.NprocRlimit > 0:
			en.Pids, en.PidsMax, en.PidsMethod = true, int64(st.Protections.NprocRlimit), "rlimit"
			en.Reason = cgroups.WithoutPidsNote(en.Reason)
		}
		out.Enforced = en
		p := st.Protections
		out.Protections = &backend.Protections{Seccomp: p.Seccomp, NoNewPrivs: p.NoNewPrivs, NoNewPrivsOff: p.NoNewPrivsOff, Capabilities: p.Capabilities,
			LandlockABI: p.LandlockABI, Writable: p.Writable, UserNS: true,
			Namespaces: []string{"user", "mount", "pid", "net", "uts", "ipc", "cgroup"}}
	}
	if !alive {
		if st.SupervisorPID > 0 && st.FinishedAt.IsZero() {
			out.ExitReason = "the supervisor died"
		}
		return out, nil
	}
	out.Status = "running"
	out.SupervisorPID, out.InitPID = st.SupervisorPID, st.InitPID
	out.Pids = append([]int{st.SupervisorPID}, descendants(st.InitPID)...)
	for _, p := range out.Pids {
		out.MemoryBytes += rss(p)
	}
	if g, err := cgroups.Open(sb.ID); err == nil {
		out.OOMKills, _ = g.OOMKills()
		out.PidsLimitHits, _ = g.PidsLimitHits()
	}
	return out, nil
}

// descendants lists pid and every process below it.
func descendants(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], t.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	sort.Ints(out[1:])
	return out
}

// rss is a process's resident memory in bytes.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n * int64(os.Getpagesize())
}

// Stop implements backend.Backend.
func (b *Backend) Stop(ctx context.Context, sb *backend.Sandbox, grace time.Duration) error {
	l := newLayout(sb.Dir)
	// A supervisor still starting (its CLI was killed) is waited for, then stopped.
	b.waitRunning(ctx, l)
	st, alive := b.readState(sb)
	if !alive {
		// Nothing runs; a supervisor killed outright may have left its cgroup behind.
		if g, err := cgroups.Open(sb.ID); err == nil {
			g.Remove()
		}
		cgroups.RemoveHost(sb.ID)
		return b.stopped(sb)
	}
	syscall.Kill(st.SupervisorPID, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	lock := newLayout(sb.Dir).supervisorLock()
	// Gone means its lock is free: a process shows as a zombie before all its threads have
	// exited and released its files.
	for procStartTime(st.SupervisorPID) == st.SupervisorStart || flock.Held(lock) {
		if time.Now().After(deadline) {
			// The init dies with its supervisor (parent-death signal) and takes the PID namespace along.
			syscall.Kill(st.SupervisorPID, syscall.SIGKILL)
			syscall.Kill(st.InitPID, syscall.SIGKILL)
			deadline = time.Now().Add(5 * time.Second)
			grace = -1
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if grace < 0 && time.Now().After(deadline) {
			return fmt.Errorf("sandbox %s did not stop", sb.Name)
		}
	}
	// The kernel empties the PID namespace when its init dies; wait until it has (thousands of
	// processes take a moment), so that stop returns with nothing of the sandbox left.
	for end := time.Now().Add(10 * time.Second); st.InitPID > 0 && procStartTime(st.InitPID) != 0 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if g, err := cgroups.Open(sb.ID); err == nil {
		g.Remove()
	}
	cgroups.RemoveHost(sb.ID)
	return b.stopped(sb)
}

// stopped releases what a sandbox holds on the host while it runs: its filesystem image's
// mount (a sandbox being started meanwhile keeps it).
func (b *Backend) stopped(sb *backend.Sandbox) error {
	if os.Geteuid() != 0 || flock.Held(newLayout(sb.Dir).supervisorLock()) {
		return nil
	}
	return unmountImage(sb.Dir)
}

// Exec implements backend.Backend.
func (b *Backend) Exec(ctx context.Context, sb *backend.Sandbox, req backend.ExecRequest, stdio backend.ExecIO) (int, error) {
	if _, alive := b.readState(sb); !alive {
		return -1, backend.ErrNotRunning
	}
	m := execproto.Message{Argv: req.Argv, Env: req.Env, Dir: req.Dir, User: req.User, TTY: req.TTY}
	return execproto.Run(ctx, newLayout(sb.Dir).sock(), m, execproto.IO{
		Stdin: stdio.Stdin, Stdout: stdio.Stdout, Stderr: stdio.Stderr, AttachStdin: req.Stdin})
}

// Remove implements backend.Backend: it deletes the sandbox's private state folder, refusing to
// cross into any other filesystem (a mount left inside must never take user files with it).
func (b *Backend) Remove(ctx context.Context, sb *backend.Sandbox) error {
	if _, alive := b.readState(sb); alive || flock.Held(newLayout(sb.Dir).supervisorLock()) {
		return fmt.Errorf("sandbox %s is running", sb.Name)
	}
	if g, err := cgroups.Open(sb.ID); err == nil {
		g.Remove()
	}
	cgroups.RemoveHost(sb.ID)
	if os.Geteuid() == 0 {
		clearQuota(sb.Dir)
		if err := unmountImage(sb.Dir); err != nil {
			return err
		}
		// An earlier paddock let mounts made inside a root-mode sandbox propagate into its state
		// folder on the host (a workspace under the sandbox's home): detach them, so that the
		// removal below neither refuses nor ever reaches the user's files through them.
		if err := fsutil.DetachBelow(sb.Dir); err != nil {
			return err
		}
	}
	if l := newLayout(sb.Dir); IsOCI(sb) && os.Geteuid() != 0 {
		if err := image.RemoveOwned(l.upper(), l.work()); err != nil {
			return err
		}
	}
	return fsutil.RemoveTree(sb.Dir)
}

// Salvage reads the sandbox a state folder holds from the supervisor's own copy of its spec
// (spec.json), for a sandbox whose record is damaged. The folder is the sandbox's own: read
// beneath it, bounded, never through a link.
func (b *Backend) Salvage(_ context.Context, dir string) (*backend.Sandbox, error) {
	data, err := fsutil.ReadFileBeneath(dir, "spec.json", 16<<20)
	if err != nil {
		return nil, err
	}
	var sb backend.Sandbox
	if err := json.Unmarshal(data, &sb); err != nil {
		return nil, fmt.Errorf("%s: %w", newLayout(dir).spec(), err)
	}
	if len(sb.ID) < 12 || sb.ID[:12] != filepath.Base(dir) || sb.Name == "" {
		return nil, fmt.Errorf("%s does not describe this sandbox", newLayout(dir).spec())
	}
	sb.Dir = dir
	return &sb, nil
}

var _ backend.Salvager = (*Backend)(nil)

// keepAfterLogout makes a rootless sandbox in the user's systemd manager outlive the user's last
// login session, which would otherwise stop the manager and every sandbox in it: logind's
// lingering is switched on for the user where the host lets the user do so itself; where it
// does not, the user is told the command that does.
func (b *Backend) keepAfterLogout(ctx context.Context, sb *backend.Sandbox) {
	if os.Geteuid() == 0 || b.Quiet {
		return
	}
	if st, _ := b.readState(sb); st.Enforced.Scope == "" {
		return
	}
	on, user := systemd.Lingering()
	if on {
		return
	}
	if err := systemd.EnableLinger(ctx); err == nil {
		fmt.Fprintf(os.Stderr, "paddock: switched on lingering for %s, so that sandboxes outlive your login sessions (`loginctl disable-linger` undoes it)\n", user)
		return
	}
	fmt.Fprintf(os.Stderr, "paddock: warning: sandbox %s stops when your last login session ends: lingering is off for %s and this host does not let you switch it on; run `%s` once\n",
		sb.Name, user, systemd.LingerFix(user))
}
