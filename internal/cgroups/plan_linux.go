package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

const (
	v1Parent = "paddock"       // v1: groups are <mount>/paddock/<id>
	v2Slice  = "paddock.slice" // v2: groups are <top>/paddock.slice/<id>
)

// rootlessFix tells an unprivileged user how to get a delegated cgroup.
const rootlessFix = "to enforce limits without root, start paddock inside a cgroup v2 subtree delegated to you, " +
	"e.g. `systemd-run --user --scope -p Delegate=yes paddock ...`, with the cpu, memory and pids controllers " +
	"delegated to your user manager (systemd: `Delegate=cpu memory pids` in a drop-in for user@.service); " +
	"or run paddock as root"

// plan is what Create would do on this host, worked out without creating anything.
type plan struct {
	enf    Enforcement
	v2Top  string            // v2: the group under which paddock.slice lives
	v1Dirs map[string]string // v1: controller -> its "<mount>/paddock" directory
	tops   []string          // v2: where Open looks for paddock.slice
}

// detect works out the plan for this process, as root or rootless.
func detect() plan {
	lay, err := readLayout()
	switch {
	case err != nil:
		return nonePlan(fmt.Sprintf("cannot read the cgroup mounts: %v", err))
	case os.Geteuid() != 0:
		return rootlessPlan(lay)
	case lay.usesV1():
		return v1Plan(lay)
	case lay.v2 != nil:
		return v2Plan(lay.v2.dir, "")
	}
	return nonePlan("no cgroup filesystem is mounted; mount cgroup2 on /sys/fs/cgroup")
}

// nonePlan is a plan that enforces nothing, for the given reason.
func nonePlan(reason string) plan {
	return plan{enf: Enforcement{Driver: DriverNone, Reason: reason}}
}

// v1Plan plans one paddock directory in each v1 hierarchy that is usable.
func v1Plan(lay layout) plan {
	p := plan{enf: Enforcement{Driver: DriverV1}, v1Dirs: map[string]string{}}
	var why []string
	for _, c := range v1Controllers {
		m, ok := lay.v1[c]
		if !ok {
			if c != "cpuacct" {
				why = append(why, fmt.Sprintf("no cgroup v1 %s hierarchy is mounted, so %s cannot be limited", c, c))
			}
			continue
		}
		parent := filepath.Join(m.dir, v1Parent)
		if err := canCreateIn(parent); err != nil {
			why = append(why, fmt.Sprintf("cannot create %s groups: %v", c, err))
			continue
		}
		if c == "cpu" && !exists(filepath.Join(m.dir, "cpu.cfs_quota_us")) {
			why = append(why, "the kernel has no CPU bandwidth control (cpu.cfs_quota_us is missing)")
			continue
		}
		p.v1Dirs[c] = parent
	}
	p.enf.CPU, p.enf.Memory, p.enf.Pids = p.v1Dirs["cpu"] != "", p.v1Dirs["memory"] != "", p.v1Dirs["pids"] != ""
	p.enf.Reason = joinReasons(why...)
	if !p.enf.CPU && !p.enf.Memory && !p.enf.Pids {
		return nonePlan(p.enf.Reason)
	}
	p.enf.Paths = uniqueSorted(p.v1Dirs)
	return p
}

// v2Plan plans groups under top/paddock.slice. fix, if set, is added to the
// reason when something cannot be enforced.
func v2Plan(top, fix string) plan {
	slice := filepath.Join(top, v2Slice)
	avail, err := readWords(filepath.Join(top, "cgroup.controllers"))
	if err != nil {
		return nonePlan(joinReasons(fmt.Sprintf("cannot read the cgroup v2 controllers: %v", err), fix))
	}
	enabled, err := readWords(filepath.Join(top, "cgroup.subtree_control"))
	if err != nil {
		return nonePlan(joinReasons(fmt.Sprintf("cannot read the cgroup v2 controllers: %v", err), fix))
	}
	blocked := canEnableBelow(top)
	var why []string
	ok := map[string]bool{}
	for _, c := range v2Controllers {
		switch {
		case !avail[c]:
			why = append(why, fmt.Sprintf("the %s controller is not available in %s", c, top))
		case !enabled[c] && blocked != nil:
			why = append(why, fmt.Sprintf("cannot enable the %s controller below %s: %v", c, top, blocked))
		default:
			ok[c] = true
		}
	}
	if err := canCreateIn(slice); err != nil {
		return nonePlan(joinReasons(fmt.Sprintf("cannot create groups: %v", err), fix))
	}
	if len(ok) == 0 {
		return nonePlan(joinReasons(joinReasons(why...), fix))
	}
	enf := Enforcement{Driver: DriverV2, CPU: ok["cpu"], Memory: ok["memory"], Pids: ok["pids"], Paths: []string{slice}}
	if len(why) > 0 {
		enf.Reason = joinReasons(joinReasons(why...), fix)
	}
	return plan{enf: enf, v2Top: top, tops: []string{top}}
}

// rootlessPlan plans groups for an unprivileged process: only a cgroup v2
// subtree delegated to this user, containing this process, can work, since
// moving a process needs write access to cgroup.procs of the closest common
// ancestor of its old and new group.
func rootlessPlan(lay layout) plan {
	if lay.usesV1() {
		return nonePlan("cpu, memory and pids are on cgroup v1 hierarchies on this host (a v1 or hybrid layout), " +
			"and cgroup v1 cannot be delegated to an unprivileged user; run paddock as root, or use a host booted " +
			"with only the unified cgroup v2 hierarchy (systemd.unified_cgroup_hierarchy=1) and start paddock with " +
			"`systemd-run --user --scope -p Delegate=yes paddock ...`")
	}
	if lay.v2 == nil {
		return nonePlan("no cgroup v2 hierarchy is mounted; " + rootlessFix)
	}
	userTop := filepath.Join(lay.v2.dir, "user.slice", "user-"+strconv.Itoa(os.Geteuid())+".slice",
		"user@"+strconv.Itoa(os.Geteuid())+".service")
	own, err := lay.ownV2Dir()
	if err != nil {
		return withTops(nonePlan(joinReasons(fmt.Sprintf("cannot find this process's cgroup: %v", err), rootlessFix)), userTop)
	}
	top := delegatedTop(own, lay.v2.dir)
	if top == "" {
		return withTops(nonePlan(fmt.Sprintf("this process's cgroup %s is not delegated to uid %d "+
			"(its cgroup.procs is not writable), so it cannot move processes into other groups; %s",
			own, os.Geteuid(), rootlessFix)), userTop)
	}
	return withTops(v2Plan(top, rootlessFix), userTop)
}

// withTops adds top to the places Open looks for groups.
func withTops(p plan, top string) plan {
	if !slices.Contains(p.tops, top) {
		p.tops = append(p.tops, top)
	}
	return p
}

// delegatedTop returns the highest group, from own up to (not including) the
// mount root, whose cgroup.procs this process may write: the common ancestor
// through which it may move itself or its children. "" if own is not writable.
func delegatedTop(own, mountDir string) string {
	top := ""
	for dir := own; dir != mountDir && len(dir) > len(mountDir); dir = filepath.Dir(dir) {
		if canWrite(filepath.Join(dir, "cgroup.procs")) != nil {
			break
		}
		top = dir
	}
	return top
}

// canEnableBelow returns nil if controllers can be enabled in top's
// cgroup.subtree_control: it must be writable, and top must either be the
// root group or hold no processes itself (the cgroup v2 "no internal
// processes" rule).
func canEnableBelow(top string) error {
	if err := canWrite(filepath.Join(top, "cgroup.subtree_control")); err != nil {
		return err
	}
	if !exists(filepath.Join(top, "cgroup.events")) {
		return nil // only the root group lacks cgroup.events, and it is exempt
	}
	procs, err := readPids(filepath.Join(top, "cgroup.procs"))
	if err != nil {
		return err
	}
	if len(procs) > 0 {
		return errors.New("it holds processes itself, and cgroup v2 only hands controllers down from groups without processes")
	}
	return nil
}

// canCreateIn returns nil if dir exists and is writable, or can be made.
func canCreateIn(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return canWrite(filepath.Dir(dir))
	}
	return canWrite(dir)
}

// uniqueSorted returns the distinct values of m, sorted.
func uniqueSorted(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
