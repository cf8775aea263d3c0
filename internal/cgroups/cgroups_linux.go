package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
)

// Group is the cgroup (one directory on v2, one per controller hierarchy on
// v1) of one sandbox. A Group whose Enforcement().Driver is "none" has no
// directories: Add and Remove do nothing, other methods return errors
// wrapping ErrUnavailable.
type Group struct {
	id   string
	enf  Enforcement
	v2   bool
	dirs []string          // every group directory
	ctl  map[string]string // controller -> the group directory holding its files
}

// Probe reports, without creating anything, what this process could enforce
// (as root or rootless).
func Probe() Enforcement {
	return detect().enf
}

// Create makes the cgroup(s) for sandbox id (a hex string) and writes the
// limits. A stale group of the same id (left by a crash) is cleaned up first:
// its processes are killed and its directories removed. If a requested CPU or
// memory limit cannot be enforced, Create returns an error wrapping
// ErrUnavailable and leaves nothing behind. A pids limit is applied where
// possible; when it is not, Create still succeeds and Enforcement().Pids is
// false with a Reason saying so. With no CPU or memory limit requested on a
// host that can enforce nothing (e.g. rootless without delegation), Create
// returns a Group whose Driver is "none".
func Create(id string, l Limits) (*Group, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	p := detect()
	if err := refuse(l, p.enf); err != nil {
		return nil, err
	}
	if p.enf.Driver == DriverNone {
		return &Group{id: id, enf: withPidsNote(p.enf, l)}, nil
	}
	if stale, ok := p.existing(id); ok {
		if err := stale.Remove(); err != nil {
			return nil, fmt.Errorf("cgroups: remove stale group of sandbox %s: %w", id, err)
		}
	}
	g, err := p.make(id)
	if err != nil {
		return nil, fmt.Errorf("%w: create group of sandbox %s: %w", ErrUnavailable, id, err)
	}
	if err := refuse(l, g.enf); err != nil {
		return nil, errors.Join(err, g.Remove())
	}
	if err := g.apply(l); err != nil {
		return nil, errors.Join(fmt.Errorf("%w: %w", ErrUnavailable, err), g.Remove())
	}
	g.enf = withPidsNote(g.enf, l)
	return g, nil
}

// Open returns the group for id if it exists (for stats and cleanup from
// another process), else an error wrapping fs.ErrNotExist.
func Open(id string) (*Group, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	g, ok := detect().existing(id)
	if !ok {
		return nil, fmt.Errorf("cgroups: no group for sandbox %s: %w", id, fs.ErrNotExist)
	}
	return g, nil
}

// existing returns the group of id that p would use, if it exists.
func (p plan) existing(id string) (*Group, bool) {
	if p.v1Dirs != nil {
		return openV1(p, id)
	}
	for _, top := range p.tops {
		if g, ok := openV2(filepath.Join(top, v2Slice, id), id); ok {
			return g, true
		}
		// A sandbox in its own systemd scope (see CreateDelegated).
		if g, ok := openV2(filepath.Join(top, v2Slice, ScopeUnit(id), SandboxLeaf), id); ok {
			g.enf.Scope = ScopeUnit(id)
			return g, true
		}
	}
	return nil, false
}

// make creates the group directories of id; on error it leaves none behind.
func (p plan) make(id string) (*Group, error) {
	if p.v1Dirs != nil {
		return makeV1(p, id)
	}
	return makeV2(p, id)
}

// apply writes the requested limits into the group's control files.
func (g *Group) apply(l Limits) error {
	if g.v2 {
		return g.applyV2(l)
	}
	return g.applyV1(l)
}

// none is the error of methods that need group directories on a "none" Group.
func (g *Group) none() error {
	if len(g.dirs) == 0 {
		return fmt.Errorf("%w: sandbox %s has no cgroup: %s", ErrUnavailable, g.id, g.enf.Reason)
	}
	return nil
}

// Add moves a process (and so its future children) into the group. On a
// "none" Group it does nothing.
func (g *Group) Add(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("cgroups: invalid pid %d", pid)
	}
	for _, dir := range g.dirs {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("cgroups: add pid %d: %w", pid, err)
		}
	}
	return nil
}

// Procs returns the pids in the group, including any subgroups, sorted.
func (g *Group) Procs() ([]int, error) {
	if err := g.none(); err != nil {
		return nil, err
	}
	pids, err := treeProcs(g.dirs)
	if err != nil {
		return nil, fmt.Errorf("cgroups: list processes: %w", err)
	}
	return pids, nil
}

// Stats returns the group's current usage. Usage the host does not account
// (a controller without a hierarchy) reads as 0.
func (g *Group) Stats() (Stats, error) {
	if err := g.none(); err != nil {
		return Stats{}, err
	}
	var s Stats
	var err error
	if g.v2 {
		s, err = g.statsV2()
	} else {
		s, err = g.statsV1()
	}
	if err != nil {
		return Stats{}, fmt.Errorf("cgroups: read usage: %w", err)
	}
	return s, nil
}

// OOMKills returns how many times the OOM killer fired inside the group
// (memory.events oom_kill on v2, memory.oom_control oom_kill on v1).
func (g *Group) OOMKills() (int64, error) {
	if err := g.none(); err != nil {
		return 0, err
	}
	dir, ok := g.ctl["memory"]
	if !ok {
		return 0, fmt.Errorf("%w: sandbox %s has no memory controller to count OOM kills", ErrUnavailable, g.id)
	}
	file := "memory.oom_control"
	if g.v2 {
		file = "memory.events"
	}
	n, err := readKey(filepath.Join(dir, file), "oom_kill")
	if err != nil {
		return 0, fmt.Errorf("cgroups: read OOM kills: %w", err)
	}
	return n, nil
}

// Kill kills every process in the group and its subgroups and waits until
// they are gone: through cgroup.kill on v2 when the kernel has it, else by
// sending SIGKILL to each pid until the group is empty. The calling process
// is never killed; if it is in the group, Kill returns an error.
func (g *Group) Kill() error {
	if err := g.none(); err != nil {
		return err
	}
	if g.v2 {
		if err := g.killV2(); err != nil {
			return err
		}
	}
	return killLoop(g.dirs)
}

// Remove kills the group's processes, then removes all its directories. A
// group that is already gone, or a "none" Group, is not an error.
func (g *Group) Remove() error {
	if len(g.dirs) == 0 {
		return nil
	}
	if err := g.Kill(); err != nil {
		return err
	}
	var errs []error
	for _, dir := range g.dirs {
		if err := removeTree(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cgroups: remove group of sandbox %s: %w", g.id, err)
	}
	return nil
}

// paths returns the group's directories, for Enforcement.Paths.
func (g *Group) paths() []string {
	return slices.Clone(g.dirs)
}
