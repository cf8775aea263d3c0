// Package idmap is the user-id mapping of paddock's sandboxes: the root-mode range, and a
// rootless user's subordinate ids (/etc/subuid, /etc/subgid) written with newuidmap/newgidmap.
// The engine maps sandboxes with it and the template cache lays files out with the owners a
// sandbox will see.
package idmap

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
)

// Root mode maps sandbox ids 0..RootSize-1 to host ids RootBase.. .
const (
	RootBase = 1 << 30
	RootSize = 65536
)

// Subordinate are the calling user's subordinate uid and gid ranges (from /etc/subuid and
// /etc/subgid), usable when the newuidmap and newgidmap helpers are installed: as a rootless
// sandbox maps them, 0 is the user (UID, GID), 1..UIDCount are host ids UIDStart.. .
type Subordinate struct {
	UID, GID           int
	UIDStart, UIDCount int
	GIDStart, GIDCount int
	NewUIDMap          string
	NewGIDMap          string
	// AsUID, AsGID: an image's non-root user that is the calling user (ids 0..count-1 other
	// than it are UIDStart+n); 0 for the usual mapping.
	AsUID, AsGID int
}

// ErrNoSubordinate: the user has no subordinate ids, or the helpers are missing.
var ErrNoSubordinate = errors.New("no subordinate ids: add ranges for this user to /etc/subuid and /etc/subgid and install newuidmap/newgidmap (package uidmap)")

// OK reports whether a rootless sandbox can use the ranges.
func (s Subordinate) OK() bool {
	return s.UIDCount > 0 && s.GIDCount > 0 && s.NewUIDMap != "" && s.NewGIDMap != ""
}

// Lookup finds the ranges of the current user, at most 65535 ids each.
func Lookup() Subordinate {
	s := Subordinate{UID: os.Geteuid(), GID: os.Getegid()}
	names := []string{strconv.Itoa(s.UID)}
	if u, err := user.LookupId(strconv.Itoa(s.UID)); err == nil {
		names = append(names, u.Username)
	}
	s.UIDStart, s.UIDCount = findRange("/etc/subuid", names)
	s.GIDStart, s.GIDCount = findRange("/etc/subgid", names)
	s.NewUIDMap, _ = exec.LookPath("newuidmap")
	s.NewGIDMap, _ = exec.LookPath("newgidmap")
	for _, p := range []string{"/usr/bin/newuidmap", "/bin/newuidmap"} {
		if s.NewUIDMap == "" {
			if _, err := os.Stat(p); err == nil {
				s.NewUIDMap = p
			}
		}
	}
	for _, p := range []string{"/usr/bin/newgidmap", "/bin/newgidmap"} {
		if s.NewGIDMap == "" {
			if _, err := os.Stat(p); err == nil {
				s.NewGIDMap = p
			}
		}
	}
	return s
}

func findRange(file string, names []string) (int, int) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(p) != 3 {
			continue
		}
		for _, n := range names {
			if p[0] == n {
				start, err1 := strconv.Atoi(p[1])
				count, err2 := strconv.Atoi(p[2])
				if err1 == nil && err2 == nil && count > 0 {
					return start, min(count, 65535)
				}
			}
		}
	}
	return 0, 0
}

// Apply writes the maps of process pid (in a new user namespace without maps yet): 0 is the
// user, 1..count the subordinate range; or, with an image user (AsUID), that id is the user and
// every other id n < count is subordinate id start+n.
func (s Subordinate) Apply(pid int) error {
	if !s.OK() {
		return ErrNoSubordinate
	}
	p := strconv.Itoa(pid)
	for _, m := range []struct {
		tool                 string
		id, start, count, as int
	}{{s.NewUIDMap, s.UID, s.UIDStart, s.UIDCount, s.AsUID}, {s.NewGIDMap, s.GID, s.GIDStart, s.GIDCount, s.AsGID}} {
		args := []string{p, "0", strconv.Itoa(m.id), "1", "1", strconv.Itoa(m.start), strconv.Itoa(m.count)}
		if m.as > 0 {
			args = []string{p, "0", strconv.Itoa(m.start), strconv.Itoa(m.as), strconv.Itoa(m.as), strconv.Itoa(m.id), "1"}
			if n := m.count - m.as - 1; n > 0 {
				args = append(args, strconv.Itoa(m.as+1), strconv.Itoa(m.start+m.as+1), strconv.Itoa(n))
			}
		}
		out, err := exec.Command(m.tool, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s (check /etc/subuid and /etc/subgid)", m.tool, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// Describe is the uid map as /proc/PID/uid_map would show it, on one line.
func (s Subordinate) Describe() string {
	if s.AsUID > 0 {
		return fmt.Sprintf("0 %d %d; %d %d 1; %d %d %d", s.UIDStart, s.AsUID, s.AsUID, s.UID, s.AsUID+1, s.UIDStart+s.AsUID+1, s.UIDCount-s.AsUID-1)
	}
	return fmt.Sprintf("0 %d 1; 1 %d %d", s.UID, s.UIDStart, s.UIDCount)
}
