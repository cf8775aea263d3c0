package e2e

import (
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
