package cgroups

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// v1Controllers are the v1 hierarchies a group gets a directory in. cpuacct
// only provides CPU usage for Stats; the others each carry one limit.
var v1Controllers = []string{"cpu", "cpuacct", "memory", "pids"}

// v2Controllers are the cgroup v2 controllers paddock enables.
var v2Controllers = []string{"cpu", "memory", "pids"}

// cgroupMount is one cgroup filesystem mount from /proc/self/mountinfo.
type cgroupMount struct {
	dir   string   // mount point
	root  string   // the cgroup shown at dir, relative to our cgroup namespace
	v2    bool     // cgroup2 rather than a v1 hierarchy
	ctrls []string // v1 mount options, which name its controllers
}

// layout is where the host mounts the controllers paddock uses.
type layout struct {
	v2 *cgroupMount           // the cgroup2 mount, nil if none
	v1 map[string]cgroupMount // v1 controller -> the hierarchy holding it
}

// readLayout reads the current process's cgroup mounts.
func readLayout() (layout, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return layout{}, err
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		return layout{}, err
	}
	return newLayout(mounts), nil
}

// parseMountinfo returns the cgroup and cgroup2 mounts listed in r, which is
// in the format of /proc/self/mountinfo.
func parseMountinfo(r io.Reader) ([]cgroupMount, error) {
	var mounts []cgroupMount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		left, right := strings.Fields(pre), strings.Fields(post)
		if len(left) < 5 || len(right) < 3 || (right[0] != "cgroup" && right[0] != "cgroup2") {
			continue
		}
		m := cgroupMount{dir: unescapeMount(left[4]), root: unescapeMount(left[3]), v2: right[0] == "cgroup2"}
		if !m.v2 {
			m.ctrls = strings.Split(right[2], ",")
		}
		mounts = append(mounts, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return mounts, nil
}

// unescapeMount undoes the octal escapes (\040 for space...) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// newLayout picks, from mounts, the cgroup2 mount (preferring
// /sys/fs/cgroup) and the first v1 hierarchy holding each controller.
func newLayout(mounts []cgroupMount) layout {
	l := layout{v1: map[string]cgroupMount{}}
	for _, m := range mounts {
		if m.v2 {
			if l.v2 == nil || m.dir == "/sys/fs/cgroup" {
				l.v2 = &m
			}
			continue
		}
		for _, c := range v1Controllers {
			if _, seen := l.v1[c]; !seen && slices.Contains(m.ctrls, c) {
				l.v1[c] = m
			}
		}
	}
	return l
}

// usesV1 tells whether any controller paddock limits with lives on a v1
// hierarchy (a v1 or hybrid host). A controller can be bound to only one
// hierarchy at a time, so then cgroup v2 cannot offer it.
func (l layout) usesV1() bool {
	for _, c := range v2Controllers {
		if _, ok := l.v1[c]; ok {
			return true
		}
	}
	return false
}

// ownV2Dir returns the directory of this process's cgroup v2 group, read
// from /proc/self/cgroup ("0::/path").
func (l layout) ownV2Dir() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	path, err := parseV2Path(string(data))
	if err != nil {
		return "", err
	}
	return underMount(*l.v2, path)
}

// parseV2Path returns the path of the "0::" line of a /proc/PID/cgroup file.
func parseV2Path(data string) (string, error) {
	for _, line := range strings.Split(data, "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("no cgroup v2 entry (0::) in /proc/self/cgroup")
}

// underMount maps a cgroup path, as seen in /proc/self/cgroup, to a
// directory of mount m.
func underMount(m cgroupMount, path string) (string, error) {
	rel, err := filepath.Rel(m.root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("cgroup %s is outside the part of the hierarchy mounted at %s", path, m.dir)
	}
	return filepath.Join(m.dir, rel), nil
}
