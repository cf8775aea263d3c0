package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWorkspaceUnderHomeOnSharedRoot reproduces an ordinary systemd host (the root mount shared)
// in a mount namespace of its own: a workspace under the user's home is bound inside the
// sandbox's home (root mode: an idmapped clone of the state folder). Nothing the sandbox mounts
// may show up in the host's mount table, and stop then rm must leave the workspace intact.
func TestWorkspaceUnderHomeOnSharedRoot(t *testing.T) {
	e := newEnv(t, asRoot)
	ws := e.mkdir(filepath.Join(e.home, "proj"))
	e.writeFile(filepath.Join(ws, "f"), "x\n")
	e.mkdir(filepath.Join(ws, "sub"))
	e.writeFile(filepath.Join(ws, "sub", "g"), "y\n")
	script := `set -e
mount --make-rshared /
cd "$WS"
"$PADDOCK" run shell -c 'cat f sub/g >/dev/null'
"$PADDOCK" stop shell-proj >/dev/null
echo "--- mounts after stop"
grep -F " $PADDOCK_HOME/" /proc/self/mountinfo || true
echo "--- rm"
"$PADDOCK" rm shell-proj 2>&1 || echo "rm failed"
`
	cmd := exec.Command("unshare", "-m", "--propagation", "unchanged", "sh", "-c", script)
	cmd.Env = append(e.command("").Env, "PADDOCK="+binary, "WS="+ws)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	after := strings.SplitN(strings.SplitN(string(out), "--- mounts after stop\n", 2)[1], "--- rm", 2)[0]
	if strings.TrimSpace(after) != "" {
		t.Errorf("the sandbox's mounts appear in the host's mount table after stop:\n%s", after)
	}
	if strings.Contains(string(out), "rm failed") {
		t.Errorf("rm failed:\n%s", out)
	}
	for p, want := range map[string]string{filepath.Join(ws, "f"): "x\n", filepath.Join(ws, "sub", "g"): "y\n"} {
		if b, err := os.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("the workspace lost %s (%q, %v):\n%s", p, b, err, out)
		}
	}
	if dirs := e.sandboxDirs(); len(dirs) != 0 {
		t.Errorf("rm left the sandbox's state: %v\n%s", dirs, out)
	}
}

// TestCgroupNamespaceEveryStart: every process of the sandbox sees its own cgroup as the root,
// in every start (the namespace used to be entered on one thread of the init while processes
// were forked from another).
func TestCgroupNamespaceEveryStart(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("cg")
		for i := 0; i < 20; i++ {
			out := e.ok(ws, "run", "shell", "-c", "cat /proc/self/cgroup")
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.HasSuffix(line, ":/") {
					t.Fatalf("start %d: a sandbox process sees a cgroup other than its own as the root:\n%s", i+1, out)
				}
			}
			e.ok("", "stop", "shell-cg")
		}
	})
}

// TestSupervisorHasItsOwnLimit: the host side of a sandbox (its supervisor, which serves the
// egress proxy) is in a cgroup of its own, limited to 256 MiB and 512 tasks, whatever the
// sandbox does (issue 14).
func TestSupervisorHasItsOwnLimit(t *testing.T) {
	e := newEnv(t, asRoot)
	ws := e.workspace("sup")
	e.ok(ws, "run", "shell", "-c", "true")
	var views []struct {
		State struct {
			SupervisorPID int `json:"supervisor_pid"`
		} `json:"state"`
	}
	if err := json.Unmarshal([]byte(e.ok("", "inspect", "shell-sup")), &views); err != nil || len(views) != 1 || views[0].State.SupervisorPID == 0 {
		t.Fatalf("inspect: %v %+v", err, views)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", views[0].State.SupervisorPID))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		switch {
		case f[1] == "memory":
			files[filepath.Join("/sys/fs/cgroup/memory", f[2], "memory.limit_in_bytes")] = "268435456"
		case f[1] == "pids":
			files[filepath.Join("/sys/fs/cgroup/pids", f[2], "pids.max")] = "512"
		case f[0] == "0" && !strings.Contains(string(b), ":memory:"):
			files[filepath.Join("/sys/fs/cgroup", f[2], "memory.max")] = "268435456"
			files[filepath.Join("/sys/fs/cgroup", f[2], "pids.max")] = "512"
		}
	}
	if len(files) == 0 {
		t.Fatalf("no memory or pids cgroup for the supervisor:\n%s", b)
	}
	for file, want := range files {
		got, err := os.ReadFile(file)
		if err != nil || strings.TrimSpace(string(got)) != want {
			t.Errorf("%s is %q (%v), want %s; the supervisor's cgroups:\n%s", file, got, err, want, b)
		}
	}
}
