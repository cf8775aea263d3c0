package boxinit

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

type user struct {
	name     string
	uid, gid uint32
	groups   []uint32
	home     string
}

func (u user) env() []string {
	if u.uid == 0 && u.name == "root" {
		return nil // the sandbox's base environment is root's
	}
	env := []string{"USER=" + u.name, "LOGNAME=" + u.name}
	if u.home != "" {
		env = append(env, "HOME="+u.home)
	}
	return env
}

// lookupUser resolves "", "name", "uid", "name:group" or "uid:gid" against the sandbox's own
// /etc/passwd and /etc/group.
func lookupUser(spec string) (user, error) {
	if spec == "" || spec == "root" || spec == "0" {
		return user{name: "root", home: "/root"}, nil
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	u, err := findUser(name)
	if err != nil {
		return u, err
	}
	if hasGroup {
		gid, err := findGroup(group)
		if err != nil {
			return u, err
		}
		u.gid = gid
	}
	if !idMapped("/proc/self/uid_map", u.uid) || !idMapped("/proc/self/gid_map", u.gid) {
		return u, fmt.Errorf("user %s (uid %d, gid %d) has no id in this sandbox: a rootless sandbox has only root without subordinate ids (add ranges for your user to /etc/subuid and /etc/subgid, install newuidmap from package uidmap, then paddock rm and run again), or use exec -u root", name, u.uid, u.gid)
	}
	for _, g := range supplementary(u.name, u.gid) {
		if idMapped("/proc/self/gid_map", g) {
			u.groups = append(u.groups, g)
		}
	}
	return u, nil
}

// idMapped reports whether id falls in one of the namespace's id map ranges.
func idMapped(mapFile string, id uint32) bool {
	b, err := os.ReadFile(mapFile)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		start, err1 := strconv.ParseUint(f[0], 10, 32)
		n, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 == nil && err2 == nil && uint64(id) >= start && uint64(id) < start+n {
			return true
		}
	}
	return false
}

func findUser(name string) (user, error) {
	num, numErr := strconv.ParseUint(name, 10, 32)
	var found *user
	eachLine("/etc/passwd", func(f []string) bool {
		if len(f) < 7 {
			return true
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return true
		}
		if f[0] == name || (numErr == nil && uid == num) {
			found = &user{name: f[0], uid: uint32(uid), gid: uint32(gid), home: f[5]}
			return false
		}
		return true
	})
	if found != nil {
		return *found, nil
	}
	if numErr == nil {
		return user{name: name, uid: uint32(num), gid: uint32(num), home: "/"}, nil
	}
	return user{}, fmt.Errorf("user %q does not exist in the sandbox", name)
}

func findGroup(name string) (uint32, error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), nil
	}
	var gid uint32
	ok := false
	eachLine("/etc/group", func(f []string) bool {
		if len(f) >= 3 && f[0] == name {
			if n, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				gid, ok = uint32(n), true
				return false
			}
		}
		return true
	})
	if !ok {
		return 0, fmt.Errorf("group %q does not exist in the sandbox", name)
	}
	return gid, nil
}

func supplementary(name string, primary uint32) []uint32 {
	groups := []uint32{primary}
	eachLine("/etc/group", func(f []string) bool {
		if len(f) < 4 {
			return true
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == name {
				if n, err := strconv.ParseUint(f[2], 10, 32); err == nil && uint32(n) != primary {
					groups = append(groups, uint32(n))
				}
			}
		}
		return true
	})
	return groups
}

func eachLine(path string, fn func([]string) bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if !fn(strings.Split(line, ":")) {
			return
		}
	}
}
