package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// openV2 returns the v2 group at dir, if it exists, with the controllers
// the kernel actually enabled for it.
func openV2(dir, id string) (*Group, bool) {
	if !exists(dir) {
		return nil, false
	}
	g := &Group{id: id, v2: true, dirs: []string{dir}, ctl: map[string]string{}}
	active, err := readWords(filepath.Join(dir, "cgroup.controllers"))
	var why []string
	if err != nil {
		why = append(why, fmt.Sprintf("cannot read the group's controllers: %v", err))
	}
	for _, c := range v2Controllers {
		if active[c] {
			g.ctl[c] = dir
		} else if err == nil {
			why = append(why, fmt.Sprintf("the %s controller is not enabled for %s", c, dir))
		}
	}
	_, cpu := g.ctl["cpu"]
	_, mem := g.ctl["memory"]
	_, pids := g.ctl["pids"]
	g.enf = Enforcement{Driver: DriverV2, CPU: cpu, Memory: mem, Pids: pids,
		Reason: joinReasons(why...), Paths: g.paths()}
	return g, true
}

// makeV2 creates p.v2Top/paddock.slice/id, enabling the controllers p found
// usable on the way down.
func makeV2(p plan, id string) (*Group, error) {
	slice := filepath.Join(p.v2Top, v2Slice)
	if err := mkdirExist(slice); err != nil {
		return nil, err
	}
	want := p.enf.controllers()
	why := enableControllers(p.v2Top, want)
	why = append(why, enableControllers(slice, want)...)
	dir := filepath.Join(slice, id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	g, ok := openV2(dir, id)
	if !ok {
		return nil, fmt.Errorf("group %s vanished right after it was made", dir)
	}
	if len(why) > 0 || p.enf.Reason != "" {
		g.enf.Reason = joinReasons(append([]string{p.enf.Reason}, why...)...)
	}
	return g, nil
}

// controllers lists the controllers e says are enforced.
func (e Enforcement) controllers() []string {
	var out []string
	for c, ok := range map[string]bool{"cpu": e.CPU, "memory": e.Memory, "pids": e.Pids} {
		if ok {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// enableControllers turns on the controllers want in dir's
// cgroup.subtree_control, one at a time, and returns why any could not be.
func enableControllers(dir string, want []string) []string {
	file := filepath.Join(dir, "cgroup.subtree_control")
	enabled, err := readWords(file)
	if err != nil {
		return []string{fmt.Sprintf("cannot read the controllers enabled below %s: %v", dir, err)}
	}
	var why []string
	for _, c := range want {
		if enabled[c] {
			continue
		}
		if err := writeFile(file, "+"+c); err != nil {
			why = append(why, fmt.Sprintf("cannot enable the %s controller below %s: %v", c, dir, err))
		}
	}
	return why
}

// applyV2 writes the requested limits into the v2 control files.
func (g *Group) applyV2(l Limits) error {
	dir := g.dirs[0]
	if l.CPUs > 0 {
		if err := writeFile(filepath.Join(dir, "cpu.max"), fmt.Sprintf("%d %d", l.cpuQuota(), cpuPeriod)); err != nil {
			return fmt.Errorf("set CPU limit: %w", err)
		}
	}
	if l.MemoryBytes > 0 {
		if err := setV2Memory(dir, l.MemoryBytes); err != nil {
			return fmt.Errorf("set memory limit: %w", err)
		}
	}
	if _, ok := g.ctl["pids"]; ok && l.Pids > 0 {
		if err := writeFile(filepath.Join(dir, "pids.max"), strconv.FormatInt(l.Pids, 10)); err != nil {
			return fmt.Errorf("set pids limit: %w", err)
		}
	}
	return nil
}

// setV2Memory limits memory and forbids swap (when the kernel accounts it),
// so the limit cannot be dodged by swapping.
func setV2Memory(dir string, n int64) error {
	if err := writeFile(filepath.Join(dir, "memory.max"), strconv.FormatInt(n, 10)); err != nil {
		return err
	}
	swap := filepath.Join(dir, "memory.swap.max")
	if !exists(swap) {
		return nil
	}
	return writeFile(swap, "0")
}

// statsV2 reads usage from the v2 group.
func (g *Group) statsV2() (Stats, error) {
	var s Stats
	var err error
	dir := g.dirs[0]
	if _, ok := g.ctl["memory"]; ok {
		if s.MemoryBytes, err = readInt(filepath.Join(dir, "memory.current")); err != nil {
			return Stats{}, err
		}
	}
	if _, ok := g.ctl["pids"]; ok {
		if s.Pids, err = readInt(filepath.Join(dir, "pids.current")); err != nil {
			return Stats{}, err
		}
	}
	if stat := filepath.Join(dir, "cpu.stat"); exists(stat) {
		if s.CPUUsec, err = readKey(stat, "usage_usec"); err != nil {
			return Stats{}, err
		}
	}
	return s, nil
}

// killV2 writes cgroup.kill, which kills the whole subtree at once, unless
// the kernel lacks it or the calling process is inside (killLoop then takes
// care of the others).
func (g *Group) killV2() error {
	kill := filepath.Join(g.dirs[0], "cgroup.kill")
	if !exists(kill) {
		return nil
	}
	pids, err := treeProcs(g.dirs)
	if err != nil {
		return fmt.Errorf("cgroups: list processes: %w", err)
	}
	if slices.Contains(pids, os.Getpid()) {
		return nil
	}
	if err := writeFile(kill, "1"); err != nil {
		return fmt.Errorf("cgroups: kill group: %w", err)
	}
	return nil
}
