package e2e

import (
	"strings"
	"testing"
)

// hostPathsShown lists the lines of a sandbox's /proc/self/mountinfo that name one of paths,
// except those whose mount point is in allowed (what the user mounted, at its real path, is
// expected).
func hostPathsShown(paths []string, mountinfo string, allowed ...string) []string {
	var out []string
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || f[4] == a
		}
		for _, p := range paths {
			if !ok && strings.Contains(line, p) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// A sandbox's mount table shows no host path of paddock's: not PADDOCK_HOME (its hostname,
// hosts, boot id and CA bundle are copies in a tmpfs of the sandbox's own), not where the
// paddock binary is installed (a copy too). Its home, /tmp and /var are folders under
// PADDOCK_HOME, whose paths a bind mount shows, unless the sandbox has a filesystem of its own
// (root, --disk where the host has no project quotas): then nothing of PADDOCK_HOME shows.
func TestMountinfoHostPaths(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("proj")
		mi := e.ok(ws, "run", "shell", "-c", "cat /proc/self/mountinfo; cat /etc/hostname; /run/paddock/paddock version >/dev/null && echo helper-runs")
		if !strings.Contains(mi, "shell-proj") || !strings.Contains(mi, "helper-runs") {
			t.Fatalf("hostname or the paddock helper missing inside:\n%s", mi)
		}
		if shown := hostPathsShown([]string{e.phome, binary}, mi, "/root", "/tmp", "/var", ws); len(shown) > 0 {
			t.Errorf("the sandbox's mount table shows paddock's host paths:\n%s", strings.Join(shown, "\n"))
		}
		if e.mode == asRoot && !quotasOn(t, e.dir) {
			ws := e.workspace("own")
			mi := e.ok(ws, "run", "--disk", "64m", "shell", "-c", "cat /proc/self/mountinfo")
			if shown := hostPathsShown([]string{e.phome, binary}, mi, ws); len(shown) > 0 {
				t.Errorf("with a filesystem of its own, the sandbox's mount table shows paddock's host paths:\n%s", strings.Join(shown, "\n"))
			}
		}
	})
}

// The Docker backend: its sandboxes' mount tables do not show where the paddock binary is
// installed (the relay is a per-sandbox copy). They do show PADDOCK_HOME: the proxy's socket
// folder, that copy and the CA bundle are bind mounts of files under it (the socket must be;
// copying the others into every container at each start would cost a 19 MB upload), and the
// home volume's path under Docker's data root; and the host's boot id, which runc refuses to
// mount over (a /proc path not on its list).
func TestMountinfoHostPathsDocker(t *testing.T) {
	e, _ := dockerEnv(t)
	ws := e.workspace("proj")
	mi := e.ok(ws, "--backend", "docker", "run", "shell", "-c", "cat /proc/self/mountinfo")
	if shown := hostPathsShown([]string{binary}, mi, ws); len(shown) > 0 {
		t.Errorf("the sandbox's mount table shows where paddock is installed:\n%s", strings.Join(shown, "\n"))
	}
	if !strings.Contains(mi, e.phome) {
		t.Errorf("the Docker sandbox's mount table no longer shows PADDOCK_HOME: update this test and the README's security model")
	}
}
