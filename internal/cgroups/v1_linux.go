package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// openV1 returns the v1 group of id if any of its directories exist.
func openV1(p plan, id string) (*Group, bool) {
	g := newV1Group(id, p)
	for c, parent := range p.v1Dirs {
		if dir := filepath.Join(parent, id); exists(dir) {
			g.ctl[c] = dir
		}
	}
	if len(g.ctl) == 0 {
		return nil, false
	}
	g.finishV1()
	return g, true
}

// makeV1 creates id's directory in every hierarchy of p.
func makeV1(p plan, id string) (*Group, error) {
	g := newV1Group(id, p)
	for _, c := range v1Controllers {
		parent, ok := p.v1Dirs[c]
		if !ok {
			continue
		}
		dir := filepath.Join(parent, id)
		if !slices.Contains(g.dirs, dir) { // co-mounted controllers share a dir
			if err := makeV1Dir(parent, dir); err != nil {
				return nil, errors.Join(err, g.Remove())
			}
			g.dirs = append(g.dirs, dir)
		}
		g.ctl[c] = dir
	}
	g.finishV1()
	return g, nil
}

// newV1Group is an empty v1 group of id.
func newV1Group(id string, p plan) *Group {
	return &Group{id: id, ctl: map[string]string{}, enf: Enforcement{Driver: DriverV1, Reason: p.enf.Reason}}
}

// finishV1 fills in dirs and Enforcement from ctl.
func (g *Group) finishV1() {
	g.dirs = uniqueSorted(g.ctl)
	_, g.enf.CPU = g.ctl["cpu"]
	_, g.enf.Memory = g.ctl["memory"]
	_, g.enf.Pids = g.ctl["pids"]
	g.enf.Paths = g.paths()
}

// makeV1Dir makes parent (if needed) and then dir, preparing cpuset files
// in hierarchies where cpuset is co-mounted, since v1 refuses processes in a
// cpuset group whose cpus and mems are empty.
func makeV1Dir(parent, dir string) error {
	if err := mkdirExist(parent); err != nil {
		return err
	}
	if err := inheritCpuset(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	return inheritCpuset(dir)
}

// inheritCpuset copies cpuset.cpus and cpuset.mems from the parent of dir
// when dir has them empty. Hierarchies without cpuset are left alone.
func inheritCpuset(dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := os.ReadFile(filepath.Join(dir, f))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(cur)) != "" {
			continue
		}
		val, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, f), strings.TrimSpace(string(val))); err != nil {
			return err
		}
	}
	return nil
}

// applyV1 writes the requested limits into the v1 control files.
func (g *Group) applyV1(l Limits) error {
	if l.CPUs > 0 {
		dir := g.ctl["cpu"]
		if err := writeFile(filepath.Join(dir, "cpu.cfs_period_us"), strconv.Itoa(cpuPeriod)); err != nil {
			return fmt.Errorf("set CPU limit: %w", err)
		}
		if err := writeFile(filepath.Join(dir, "cpu.cfs_quota_us"), strconv.FormatInt(l.cpuQuota(), 10)); err != nil {
			return fmt.Errorf("set CPU limit: %w", err)
		}
	}
	if l.MemoryBytes > 0 {
		if err := setV1Memory(g.ctl["memory"], l.MemoryBytes); err != nil {
			return fmt.Errorf("set memory limit: %w", err)
		}
	}
	if dir, ok := g.ctl["pids"]; ok && l.Pids > 0 {
		if err := writeFile(filepath.Join(dir, "pids.max"), strconv.FormatInt(l.Pids, 10)); err != nil {
			return fmt.Errorf("set pids limit: %w", err)
		}
	}
	return nil
}

// setV1Memory limits memory, and memory plus swap to the same value when the
// kernel accounts swap, so the limit cannot be dodged by swapping.
func setV1Memory(dir string, n int64) error {
	v := strconv.FormatInt(n, 10)
	if err := writeFile(filepath.Join(dir, "memory.limit_in_bytes"), v); err != nil {
		return err
	}
	memsw := filepath.Join(dir, "memory.memsw.limit_in_bytes")
	if !exists(memsw) {
		return nil
	}
	return writeFile(memsw, v)
}

// statsV1 reads usage from the v1 hierarchies the group has.
func (g *Group) statsV1() (Stats, error) {
	var s Stats
	var err error
	if dir, ok := g.ctl["memory"]; ok {
		if s.MemoryBytes, err = readInt(filepath.Join(dir, "memory.usage_in_bytes")); err != nil {
			return Stats{}, err
		}
	}
	if dir, ok := g.ctl["pids"]; ok {
		if s.Pids, err = readInt(filepath.Join(dir, "pids.current")); err != nil {
			return Stats{}, err
		}
	}
	if dir, ok := g.ctl["cpuacct"]; ok {
		ns, err := readInt(filepath.Join(dir, "cpuacct.usage"))
		if err != nil {
			return Stats{}, err
		}
		s.CPUUsec = ns / 1000
	}
	return s, nil
}
