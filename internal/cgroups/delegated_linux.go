package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Names inside a delegated group (a sandbox's systemd scope): cgroup v2 lets processes live
// only in leaves once controllers are enabled below a group, so the scope holds two.
const (
	SandboxLeaf    = "sandbox"    // the sandbox's processes, under its limits
	SupervisorLeaf = "supervisor" // its supervisor on the host (the egress proxy), under HostLimits
)

// HostLimits bound the host side of every sandbox: its supervisor, which serves the egress
// proxy. Whatever a sandbox does (traffic through the proxy included), the paddock processes it
// drives on the host use at most this much memory (no swap) and this many tasks; past it the
// kernel kills the supervisor, and the sandbox ends with it.
var HostLimits = Limits{MemoryBytes: 256 << 20, Pids: 512}

// ScopeUnit is the name of the systemd scope unit of the sandbox with this id; the manager puts
// it in paddock.slice, so its group is <manager's group>/paddock.slice/<ScopeUnit(id)>.
func ScopeUnit(id string) string { return "paddock-" + id + ".scope" }

// CreateDelegated makes the groups of sandbox id inside the cgroup v2 group that holds the
// calling process and was delegated to it (a systemd scope started with Delegate=yes for this
// process alone): the caller moves to its SupervisorLeaf, limited by host, and the sandbox's
// group is its SandboxLeaf, limited by l. It returns the sandbox's group and the caller's.
func CreateDelegated(id string, l, host Limits) (*Group, *Group, error) {
	if err := checkID(id); err != nil {
		return nil, nil, err
	}
	if err := l.validate(); err != nil {
		return nil, nil, err
	}
	lay, err := readLayout()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if lay.v2 == nil || lay.usesV1() {
		return nil, nil, fmt.Errorf("%w: a delegated group needs the unified cgroup v2 hierarchy", ErrUnavailable)
	}
	scope, err := lay.ownV2Dir()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	sup := filepath.Join(scope, SupervisorLeaf)
	if err := mkdirExist(sup); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := writeFile(filepath.Join(sup, "cgroup.procs"), strconv.Itoa(os.Getpid())); err != nil {
		return nil, nil, fmt.Errorf("%w: moving the supervisor into %s: %w", ErrUnavailable, sup, err)
	}
	avail, err := readWords(filepath.Join(scope, "cgroup.controllers"))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var want, why []string
	for _, c := range v2Controllers {
		if avail[c] {
			want = append(want, c)
		} else {
			why = append(why, fmt.Sprintf("the %s controller is not delegated to %s", c, scope))
		}
	}
	why = append(why, enableControllers(scope, want)...)
	dir := filepath.Join(scope, SandboxLeaf)
	if err := mkdirExist(dir); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	g, ok := openV2(dir, id)
	s, ok2 := openV2(sup, id)
	if !ok || !ok2 {
		return nil, nil, fmt.Errorf("%w: the groups in %s vanished right after they were made", ErrUnavailable, scope)
	}
	if len(why) > 0 {
		g.enf.Reason = joinReasons(append([]string{g.enf.Reason}, why...)...)
	}
	g.enf.Scope = filepath.Base(scope)
	if err := refuse(l, g.enf); err != nil {
		return nil, nil, err
	}
	if err := g.apply(l); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("%w: %w", ErrUnavailable, err), g.Remove())
	}
	g.enf = withPidsNote(g.enf, l)
	if err := s.apply(host); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("%w: limiting the supervisor: %w", ErrUnavailable, err), g.Remove())
	}
	return g, s, nil
}

// UnifiedV2 reports whether the controllers paddock uses are all on the unified cgroup v2
// hierarchy (no v1 hierarchy holds one): only there can a delegated group enforce limits.
func UnifiedV2() bool {
	lay, err := readLayout()
	return err == nil && lay.v2 != nil && !lay.usesV1()
}

// ProbeScope reports what a sandbox in a systemd scope of its own would get: the controllers the
// manager (the system one as root, the user's own rootless, in user@UID.service) may hand to it.
func ProbeScope() Enforcement {
	lay, err := readLayout()
	if err != nil || lay.v2 == nil || lay.usesV1() {
		return nonePlan("the controllers are not all on the unified cgroup v2 hierarchy").enf
	}
	top := lay.v2.dir
	if os.Geteuid() != 0 {
		uid := strconv.Itoa(os.Geteuid())
		top = filepath.Join(top, "user.slice", "user-"+uid+".slice", "user@"+uid+".service")
	}
	avail, err := readWords(filepath.Join(top, "cgroup.controllers"))
	if err != nil {
		return nonePlan(fmt.Sprintf("cannot read the controllers of %s: %v", top, err)).enf
	}
	e := Enforcement{Driver: DriverV2, CPU: avail["cpu"], Memory: avail["memory"], Pids: avail["pids"], Paths: []string{top}}
	var why []string
	for _, c := range v2Controllers {
		if !avail[c] {
			why = append(why, fmt.Sprintf("the %s controller is not delegated to %s", c, top))
		}
	}
	if len(why) > 0 {
		e.Reason = joinReasons(append(why, "add it with a drop-in for user@.service: [Service] Delegate=cpu memory pids")...)
	}
	return e
}
