package boxinit

import (
	"fmt"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/fds"
)

// dockerCaps is the capability set Docker grants a container by default, less CAP_SETFCAP; a
// sandbox's processes get these (within their user namespace) and nothing more.
var dockerCaps = []uintptr{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FOWNER, unix.CAP_FSETID, unix.CAP_KILL,
	unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETPCAP, unix.CAP_NET_BIND_SERVICE, unix.CAP_NET_RAW,
	unix.CAP_SYS_CHROOT, unix.CAP_MKNOD, unix.CAP_AUDIT_WRITE,
	// Not CAP_SETFCAP (which Docker grants): file capabilities written to the workspace would
	// hold on the host.
}

// Protections reports what a sandbox's processes run under; the init sends it with "ready".
type Protections struct {
	Seccomp    bool `json:"seccomp"`
	NoNewPrivs bool `json:"no_new_privs"`
	// NoNewPrivsOff says why no_new_privs is off (the image's setuid sudo must work).
	NoNewPrivsOff string   `json:"no_new_privs_off,omitempty"`
	Capabilities  string   `json:"capabilities"`
	LandlockABI   int      `json:"landlock_abi"`
	Writable      []string `json:"landlock_writable,omitempty"`
	NprocRlimit   uint64   `json:"nproc_rlimit,omitempty"`
}

type forkReq struct {
	argv0 string
	argv  []string
	attr  *syscall.ProcAttr
	reply chan forkResult
}

type forkResult struct {
	pid int
	err error
}

// forker is one OS thread that drops to the sandbox's protections and forks every process the
// sandbox runs: capabilities, no_new_privs, Landlock and seccomp are properties of a thread and
// are inherited by what it forks, so the init's other threads keep what serving needs while no
// process inside ever has more than this thread.
type forker struct {
	reqs chan forkReq
}

// startForker hardens a dedicated thread as cfg asks and returns it with what it applied.
func startForker(h Hardening) (*forker, Protections, error) {
	f := &forker{reqs: make(chan forkReq)}
	ready := make(chan error, 1)
	var prot Protections
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the init
		// A namespace is a property of the thread that enters it, and every sandbox process is
		// forked from this one: it enters the cgroup namespace (after the supervisor placed the
		// init in its cgroup), so that each sees its own cgroup as the root.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			ready <- fmt.Errorf("cgroup namespace: %w", err)
			return
		}
		p, err := hardenThread(h)
		prot = p
		ready <- err
		if err != nil {
			return
		}
		for r := range f.reqs {
			// A new process holds exactly what the request names (dup'd to 0, 1, 2): every other
			// descriptor of the init is close-on-exec, whatever opened it (one system call).
			if err := fds.Seal(3); err != nil {
				r.reply <- forkResult{-1, fmt.Errorf("sealing the init's descriptors: %w", err)}
				continue
			}
			pid, err := syscall.ForkExec(r.argv0, r.argv, r.attr)
			r.reply <- forkResult{pid, err}
		}
	}()
	if err := <-ready; err != nil {
		return nil, prot, err
	}
	return f, prot, nil
}

func (f *forker) forkExec(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	r := forkReq{argv0: argv0, argv: argv, attr: attr, reply: make(chan forkResult, 1)}
	f.reqs <- r
	res := <-r.reply
	return res.pid, res.err
}

// hardenThread applies the protections to the calling (locked) thread. The bounding set is
// narrowed first; Landlock and seccomp are installed while the thread still holds CAP_SYS_ADMIN
// in the sandbox's user namespace (the kernel takes that in place of no_new_privs, so a sandbox
// whose image needs setuid binaries gets both filters without no_new_privs); the effective and
// permitted sets are narrowed last.
func hardenThread(h Hardening) (Protections, error) {
	var p Protections
	keep := map[uintptr]bool{}
	var mask uint64
	for _, c := range dockerCaps {
		keep[c] = true
		mask |= 1 << c
	}
	for c := uintptr(0); c <= unix.CAP_LAST_CAP; c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && err != unix.EINVAL {
			return p, fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return p, fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	nnp := h.SetuidReason == ""
	if nnp {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return p, fmt.Errorf("no_new_privs: %w", err)
		}
		p.NoNewPrivs = true
	} else {
		p.NoNewPrivsOff = h.SetuidReason
	}
	// A ruleset allowing writes under / restricts nothing (an OCI sandbox's root is its own
	// overlay): skip it and its cost on every open.
	if h.Landlock && !(len(h.Writable) == 1 && h.Writable[0] == "/") {
		if abi := landlockABI(); abi > 0 {
			if err := restrictWrites(abi, h.Writable); err != nil {
				return p, err
			}
			p.LandlockABI, p.Writable = abi, h.Writable
		}
	}
	if h.Seccomp {
		if err := loadSeccomp(nnp); err != nil {
			return p, fmt.Errorf("seccomp: %w", err)
		}
		p.Seccomp = true
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(mask), Permitted: uint32(mask)},
		{Effective: uint32(mask >> 32), Permitted: uint32(mask >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return p, fmt.Errorf("setting capabilities: %w", err)
	}
	p.Capabilities = "docker-default"
	return p, nil
}

// limitProcesses caps how many processes the sandbox's root may run, where no pids cgroup
// does: since Linux 5.14 RLIMIT_NPROC counts per user namespace. It only ever lowers the limit.
func limitProcesses(n uint64) (uint64, error) {
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &cur); err != nil {
		return 0, err
	}
	if cur.Max < n {
		n = cur.Max
	}
	if err := unix.Setrlimit(unix.RLIMIT_NPROC, &unix.Rlimit{Cur: n, Max: n}); err != nil {
		return 0, err
	}
	return n, nil
}
