package docker

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// cgroupPids lists the processes of the container whose init is initPid, from its cgroup (an
// engine on this host): what `docker top` lists, without the engine running ps.
func cgroupPids(initPid int) ([]int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(initPid) + "/cgroup")
	if err != nil {
		return nil, false
	}
	var file string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "": // cgroup v2
			if file == "" {
				file = filepath.Join("/sys/fs/cgroup", f[2], "cgroup.procs")
			}
		case f[1] == "pids" || strings.Contains(","+f[1]+",", ",pids,"):
			file = filepath.Join("/sys/fs/cgroup/pids", f[2], "cgroup.procs")
		}
	}
	if file == "" {
		return nil, false
	}
	procs, err := os.ReadFile(file)
	if err != nil {
		return nil, false
	}
	var pids []int
	for _, f := range strings.Fields(string(procs)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	sort.Ints(pids)
	return pids, len(pids) > 0
}
