package doctor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/native"
	"github.com/paddockhq/paddock/internal/cgroups"
	"github.com/paddockhq/paddock/internal/fsutil"
)

// Run diagnoses this host for the calling user, with paddock's state under home.
func Run(ctx context.Context, home string) Report {
	r := Report{Mode: "rootless"}
	if os.Geteuid() == 0 {
		r.Mode = "root"
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	r.Kernel = unix.ByteSliceToString(uts.Release[:])
	r.add(kernelCheck(r.Kernel))
	r.add(userNSCheck(r.Mode))
	r.add(overlayCheck())
	cg := cgroups.Probe()
	r.add(scopeCheck(r.Mode))
	if scopesUsable() {
		cg = cgroups.ProbeScope()
		if r.Mode == "rootless" {
			r.add(lingerCheck())
		}
	}
	r.Limits = cg.CPU && cg.Memory
	r.add(limitsCheck(cg))
	r.add(seccompCheck())
	r.add(landlockCheck())
	if r.Mode == "rootless" {
		r.add(subidCheck())
	}
	r.add(diskCheck(home))
	r.add(diskLimitCheck(home))
	trial, prot := trialSandbox(ctx, home)
	r.add(trial)
	r.Protections = prot
	r.finish()
	return r
}

func kernelCheck(release string) Check {
	c := Check{Name: "kernel", Required: true, Detail: "Linux " + release}
	var major, minor int
	fmt.Sscanf(release, "%d.%d", &major, &minor)
	c.OK = major > 5 || major == 5 && minor >= 14
	if !c.OK {
		c.Fix = "paddock needs Linux 5.14 or newer (mount_setattr, per-namespace process limits); upgrade the kernel"
	}
	return c
}

func readSysctl(name string) (string, bool) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

func userNSCheck(mode string) Check {
	c := Check{Name: "user namespaces", Required: true}
	if v, ok := readSysctl("user.max_user_namespaces"); ok && v == "0" {
		c.Detail = "user.max_user_namespaces is 0: no user namespaces can be made"
		c.Fix = "sysctl -w user.max_user_namespaces=15000 (and set it in /etc/sysctl.d)"
		return c
	}
	if mode == "rootless" {
		if v, ok := readSysctl("kernel.unprivileged_userns_clone"); ok && v == "0" {
			c.Detail = "kernel.unprivileged_userns_clone is 0: ordinary users may not make user namespaces"
			c.Fix = "sysctl -w kernel.unprivileged_userns_clone=1 (and set it in /etc/sysctl.d), or run paddock as root"
			return c
		}
		if v, ok := readSysctl("kernel.apparmor_restrict_unprivileged_userns"); ok && v == "1" {
			c.Detail = "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10 and later)"
			c.Fix = AppArmorFix()
			if installed, _ := AppArmorProfileInstalled(); installed {
				c.Detail += "; paddock's profile is installed"
				c.Fix = ""
			}
		}
	}
	if err := probe("userns"); err != nil {
		if c.Detail == "" {
			c.Detail = "making a user namespace failed: " + err.Error()
			c.Fix = "enable user namespaces for this user, or run paddock as root"
		}
		return c
	}
	c.OK = true
	c.Detail = "a user namespace with mount, pid, net, uts, ipc and cgroup namespaces can be made"
	if mode == "rootless" {
		c.Detail += " by this user"
	}
	return c
}

func overlayCheck() Check {
	c := Check{Name: "overlayfs in a user namespace", Detail: "needed by OCI templates (copy-on-write layers)"}
	if err := probe("overlay"); err != nil {
		c.Detail = "overlayfs cannot be mounted in a user namespace: " + err.Error()
		c.Fix = "use Linux 5.11 or newer with the overlay module loaded (modprobe overlay)"
		return c
	}
	c.OK = true
	return c
}

func limitsCheck(cg cgroups.Enforcement) Check {
	c := Check{Name: "cgroups: memory, CPU and process limits", Required: true,
		OK: cg.CPU && cg.Memory, Detail: fmt.Sprintf("driver %s: cpu %v, memory %v, pids %v", cg.Driver, cg.CPU, cg.Memory, cg.Pids)}
	if !c.OK {
		c.Detail += "; sandboxes are refused unless started with --unsafe-no-limits (the process limit then falls back to RLIMIT_NPROC)"
		c.Fix = cg.Reason
	}
	return c
}

func seccompCheck() Check {
	c := Check{Name: "seccomp", Required: true}
	b, _ := os.ReadFile("/proc/self/status")
	c.OK = strings.Contains(string(b), "\nSeccomp:")
	if c.OK {
		c.Detail = "filters available: every sandbox process runs under paddock's default filter"
	} else {
		c.Detail = "this kernel has no seccomp support"
		c.Fix = "use a kernel built with CONFIG_SECCOMP_FILTER"
	}
	return c
}

func landlockCheck() Check {
	c := Check{Name: "landlock", Detail: "an extra layer: writes limited to the workspace, volumes, home and /tmp"}
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		c.Detail = "not available (" + errno.Error() + "); sandboxes run without this extra layer"
		c.Fix = "boot with lsm=...,landlock (Linux 5.13 or newer) to add it"
		return c
	}
	c.OK = true
	c.Detail = fmt.Sprintf("ABI %d: %s", v, c.Detail)
	return c
}

func subidCheck() Check {
	c := Check{Name: "subordinate ids", Detail: "ranges in /etc/subuid and /etc/subgid let a rootless sandbox have users besides root"}
	name := strconv.Itoa(os.Getuid())
	if u, err := os.ReadFile("/etc/passwd"); err == nil {
		for _, line := range strings.Split(string(u), "\n") {
			if f := strings.Split(line, ":"); len(f) > 2 && f[2] == name {
				name = f[0]
			}
		}
	}
	has := func(file string) bool {
		b, _ := os.ReadFile(file)
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Split(line, ":"); len(f) == 3 && (f[0] == name || f[0] == strconv.Itoa(os.Getuid())) {
				return true
			}
		}
		return false
	}
	c.OK = has("/etc/subuid") && has("/etc/subgid")
	if !c.OK {
		c.Detail = "no ranges for " + name + ": rootless sandboxes map only root"
		c.Fix = "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 " + name
	}
	return c
}

func diskCheck(home string) Check {
	c := Check{Name: "free disk under PADDOCK_HOME"}
	p := home
	for p != "/" {
		if _, err := os.Stat(p); err == nil {
			break
		}
		p = filepath.Dir(p)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		c.Detail = err.Error()
		return c
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	c.Detail = fmt.Sprintf("%.1f GiB free at %s", float64(free)/(1<<30), home)
	c.OK = free >= 1<<30
	if !c.OK {
		c.Fix = "free some space, or point PADDOCK_HOME at a larger filesystem"
	}
	return c
}

// diskLimitCheck says whether and how the native backend limits a sandbox's disk use here.
func diskLimitCheck(home string) Check {
	c := Check{Name: "per-sandbox disk limit (--disk), native backend"}
	s := native.DiskSupport(filepath.Join(home, "sandboxes"))
	switch s.Method {
	case backend.DiskQuota:
		c.OK = true
		c.Detail = fmt.Sprintf("%s: new sandboxes get %d GiB by default (--disk or disk = in the config file to change it)", s.Reason, backend.DefaultDiskBytes>>30)
	case backend.DiskImage:
		c.OK = true
		c.Detail = s.Reason + "; without one, a sandbox can fill the blocks and inodes of the filesystem of " + home
		c.Fix = "for a default limit, keep PADDOCK_HOME on XFS mounted pquota (or ext4 with the project feature, mounted prjquota)"
	default:
		c.Detail = s.Reason + ": --disk is refused, and a sandbox can fill the blocks and inodes of the filesystem of " + home
		c.Fix = "keep PADDOCK_HOME on a filesystem of its own (a partition or volume), so that a full sandbox cannot fill the host's"
	}
	return c
}

// trialSandbox starts a real, throwaway sandbox and reports what it runs under.
func trialSandbox(ctx context.Context, home string) (Check, []string) {
	c := Check{Name: "trial sandbox", Required: true}
	base := filepath.Join(home, "doctor")
	os.MkdirAll(base, 0o700)
	dir, err := os.MkdirTemp(base, "trial-")
	if err != nil {
		c.Detail = err.Error()
		return c, nil
	}
	defer fsutil.RemoveTree(dir)
	ws := filepath.Join(dir, "workspace")
	os.Mkdir(ws, 0o755)
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o700)
	id := fmt.Sprintf("d0c70e%058x", time.Now().UnixNano())
	sb := &backend.Sandbox{ID: id, Name: "paddock-doctor", Dir: state, Spec: backend.Spec{
		Template: "host", Hostname: "paddock-doctor", Workdir: ws, UnsafeNoLimits: true,
		Mounts: []backend.Mount{{Kind: backend.KindWorkspace, Source: ws, Target: ws}}}}
	b := native.New()
	b.Quiet = true
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.Start(ctx, sb); err != nil {
		c.Detail = "a sandbox could not start: " + err.Error()
		return c, nil
	}
	defer b.Stop(context.Background(), sb, 2*time.Second)
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	code, err := b.Exec(ctx, sb, backend.ExecRequest{Argv: []string{"/bin/sh", "-c", "echo ok > ok"}, Dir: ws},
		backend.ExecIO{Stdin: null, Stdout: null, Stderr: null})
	if err != nil || code != 0 {
		c.Detail = fmt.Sprintf("a command in the sandbox failed (exit %d, %v)", code, err)
		return c, nil
	}
	st, _ := b.State(ctx, sb)
	c.OK = true
	c.Detail = "started a sandbox, ran a command in its workspace, stopped it"
	var prot []string
	if p := st.Protections; p != nil {
		prot = append(prot, "user namespace ("+map[bool]string{true: "root inside is your uid", false: "root inside is an unprivileged host id"}[os.Geteuid() != 0]+")",
			"mount, pid, network (loopback only), uts, ipc and cgroup namespaces",
			"capabilities: Docker's default set less CAP_SETFCAP", "no_new_privs")
		if p.Seccomp {
			prot = append(prot, "seccomp: paddock's default filter")
		}
		if p.LandlockABI > 0 {
			prot = append(prot, fmt.Sprintf("landlock ABI %d: writes limited to workspace, volumes, home, /tmp, /var", p.LandlockABI))
		}
	}
	if e := st.Enforced; e != nil {
		lim := []string{}
		if e.Memory {
			lim = append(lim, "memory")
		}
		if e.CPU {
			lim = append(lim, "cpu")
		}
		if e.Pids {
			lim = append(lim, "pids ("+e.PidsMethod+")")
		}
		prot = append(prot, "limits: "+strings.Join(lim, ", "))
	}
	return c, prot
}

// probe runs paddock's hidden probe command in new namespaces.
func probe(what string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, "__probe", what)
	m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
	g := []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWCGROUP,
		UidMappings: m, GidMappings: g,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			return fmt.Errorf("%s", msg)
		}
		return err
	}
	return nil
}

// ProbeMain is the hidden probe command, run inside new namespaces.
func ProbeMain(what string) int {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Println("making mounts private:", err)
		return 1
	}
	if what != "overlay" {
		return 0
	}
	dir, err := os.MkdirTemp("", "paddock-probe-")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		fmt.Println("tmpfs:", err)
		return 1
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	for _, d := range []string{"l", "u", "w", "m"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	opts := fmt.Sprintf("lowerdir=%s/l,upperdir=%s/u,workdir=%s/w", dir, dir, dir)
	if err := unix.Mount("overlay", filepath.Join(dir, "m"), "overlay", 0, opts); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}
