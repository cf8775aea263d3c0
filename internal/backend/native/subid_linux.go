package native

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
)

// subIDs are the calling user's subordinate uid and gid ranges (from /etc/subuid and
// /etc/subgid), usable when the newuidmap and newgidmap helpers are installed.
type subIDs struct {
	uid, gid           int
	uidStart, uidCount int
	gidStart, gidCount int
	newuidmap          string
	newgidmap          string
	// asUID/asGID: the image's non-root user is the calling user (see apply).
	asUID, asGID int
}

func (s subIDs) ok() bool {
	return s.uidCount > 0 && s.gidCount > 0 && s.newuidmap != "" && s.newgidmap != ""
}

// lookupSubIDs finds the ranges of the current user, at most 65535 ids each.
func lookupSubIDs() subIDs {
	s := subIDs{uid: os.Geteuid(), gid: os.Getegid()}
	names := []string{strconv.Itoa(s.uid)}
	if u, err := user.LookupId(strconv.Itoa(s.uid)); err == nil {
		names = append(names, u.Username)
	}
	s.uidStart, s.uidCount = findRange("/etc/subuid", names)
	s.gidStart, s.gidCount = findRange("/etc/subgid", names)
	s.newuidmap, _ = exec.LookPath("newuidmap")
	s.newgidmap, _ = exec.LookPath("newgidmap")
	for _, p := range []string{"/usr/bin/newuidmap", "/bin/newuidmap"} {
		if s.newuidmap == "" {
			if _, err := os.Stat(p); err == nil {
				s.newuidmap = p
			}
		}
	}
	for _, p := range []string{"/usr/bin/newgidmap", "/bin/newgidmap"} {
		if s.newgidmap == "" {
			if _, err := os.Stat(p); err == nil {
				s.newgidmap = p
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

// apply writes pid's maps: 0 is the user, 1..count the subordinate range; or, with an image
// user (asUID), that id is the user and every other id n < count is subordinate id start+n.
func (s subIDs) apply(pid int) error {
	p := strconv.Itoa(pid)
	for _, m := range []struct {
		tool                 string
		id, start, count, as int
	}{{s.newuidmap, s.uid, s.uidStart, s.uidCount, s.asUID}, {s.newgidmap, s.gid, s.gidStart, s.gidCount, s.asGID}} {
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

func (s subIDs) describe() string {
	if s.asUID > 0 {
		return fmt.Sprintf("0 %d %d; %d %d 1; %d %d %d", s.uidStart, s.asUID, s.asUID, s.uid, s.asUID+1, s.uidStart+s.asUID+1, s.uidCount-s.asUID-1)
	}
	return fmt.Sprintf("0 %d 1; 1 %d %d", s.uid, s.uidStart, s.uidCount)
}
