package e2e

// Tests for an ordinary systemd host (systemd as PID 1, the unified cgroup v2 hierarchy, a
// shared root mount, logind sessions, the user's own manager). They run in the VM lane
// (scripts/test-vm.sh), once as root and once as an ordinary user in a plain ssh session, and
// are skipped elsewhere.

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// vmEnv is an env for the calling user as is (root, or an ordinary user in a login session).
func vmEnv(t *testing.T) *env {
	t.Helper()
	if os.Getenv("PADDOCK_VMLANE") != "1" {
		t.Skip("runs in the VM lane (scripts/test-vm.sh)")
	}
	dir, err := os.MkdirTemp(baseDir, "t-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	m := asRoot
	if os.Geteuid() != 0 {
		m = "self"
	}
	e := &env{t: t, mode: m, dir: dir, home: filepath.Join(dir, "home"), phome: filepath.Join(dir, "paddock-home"),
		uid: os.Geteuid(), gid: os.Getegid()}
	// What a login shell has: the user's manager and session bus.
	for _, k := range []string{"XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS"} {
		if v := os.Getenv(k); v != "" {
			e.extra = append(e.extra, k+"="+v)
		}
	}
	e.mkdir(e.home)
	e.writeFile(filepath.Join(e.home, ".gitconfig"), "[user]\n\tname = Paddock Tester\n\temail = tester@paddock.test\n")
	t.Cleanup(func() {
		e.run("", "rm", "-f", "--all")
		os.RemoveAll(dir)
	})
	return e
}

// treeSum describes every file under dir (path, mode, content or link target).
func treeSum(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %v", rel, info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// hostMounts lists the mount points of this (the host's) mount namespace under the env's
// PADDOCK_HOME.
func (e *env) hostMounts() []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], e.phome) {
			out = append(out, f[4])
		}
	}
	return out
}

// TestVMFilesSurvive: the workspace under the home and a -v folder bound under the sandbox's
// home stay byte-identical through run, stop, --recreate, rm and reset, and nothing the sandbox
// mounts ever shows in the host's mount table.
func TestVMFilesSurvive(t *testing.T) {
	e := vmEnv(t)
	// The sandbox's home (root's inside, rootless too), where -v folders and, for root, a
	// workspace under /root are mounted inside the sandbox's own home.
	probe := e.workspace("probe")
	sbHome := strings.TrimSpace(e.ok(probe, "run", "shell", "-c", "echo $HOME"))
	e.ok("", "rm", "-f", "shell-probe")
	// The workspace under the user's real home (/root for root: inside the sandbox's home).
	realHome, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	parent, err := os.MkdirTemp(realHome, "paddock-vmtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	ws := e.mkdir(filepath.Join(parent, "proj"))
	e.writeFile(filepath.Join(ws, "f"), "x\n")
	e.mkdir(filepath.Join(ws, "src", "deep"))
	e.writeFile(filepath.Join(ws, "src", "deep", "g.go"), "package deep\n")
	os.Symlink("src/deep/g.go", filepath.Join(ws, "link"))
	data := e.mkdir(filepath.Join(e.dir, "data"))
	e.writeFile(filepath.Join(data, "notes"), "keep me\n")
	vol := data + ":" + sbHome + "/data"
	want := treeSum(t, ws) + "\n--\n" + treeSum(t, data)
	check := func(step string) {
		t.Helper()
		if got := treeSum(t, ws) + "\n--\n" + treeSum(t, data); got != want {
			t.Fatalf("after %s the user's files changed:\nwant:\n%s\ngot:\n%s", step, want, got)
		}
		if m := e.hostMounts(); len(m) > 0 {
			t.Fatalf("after %s the sandbox's mounts show in the host's mount table: %v", step, m)
		}
	}
	e.ok(ws, "run", "-v", vol, "shell", "-c", "cat f link ~/data/notes >/dev/null")
	check("run (running)")
	e.ok("", "stop", "shell-proj")
	check("stop")
	e.ok(ws, "run", "--recreate", "-e", "X=1", "-v", vol, "shell", "-c", "true")
	check("run --recreate")
	e.ok("", "stop", "shell-proj")
	e.ok("", "rm", "shell-proj")
	check("rm")
	e.ok(ws, "run", "-v", vol, "shell", "-c", "true")
	e.ok("", "reset", "--force")
	check("reset")
}

// TestVMCgroupNamespace: every start, each process sees its own cgroup as the root.
func TestVMCgroupNamespace(t *testing.T) {
	e := vmEnv(t)
	ws := e.workspace("cg")
	for i := 0; i < 20; i++ {
		if out := e.ok(ws, "run", "shell", "-c", "cat /proc/self/cgroup"); out != "0::/\n" {
			t.Fatalf("start %d: /proc/self/cgroup is %q, not 0::/", i+1, out)
		}
		e.ok("", "stop", "shell-cg")
	}
}

// TestVMLimits: from a plain login shell, memory, CPU and pids limits are enforced in a systemd
// scope of the sandbox's own, shown so by inspect; a memory hog dies inside its sandbox, the
// sandbox and the host stay up; the supervisor has its own limit.
func TestVMLimits(t *testing.T) {
	e := vmEnv(t)
	ws := e.workspace("lim")
	e.ok(ws, "run", "--memory", "96m", "--cpus", "0.5", "--pids-limit", "64", "shell", "-c", "true")
	var views []struct {
		ID     string `json:"id"`
		Limits struct {
			Enforced struct {
				CPU, Memory, Pids bool
				CPUs              float64 `json:"cpus"`
				MemoryBytes       int64   `json:"memory_bytes"`
				PidsMax           int64   `json:"pids_max"`
				PidsMethod        string  `json:"pids_method"`
				Scope             string  `json:"systemd_scope"`
			} `json:"enforced"`
		} `json:"limits"`
		State struct {
			OOMKills      int64 `json:"oom_kills"`
			PidsLimitHits int64 `json:"pids_limit_hits"`
		} `json:"state"`
	}
	inspect := func() {
		t.Helper()
		views = nil
		if err := json.Unmarshal([]byte(e.ok("", "inspect", "shell-lim")), &views); err != nil || len(views) != 1 {
			t.Fatalf("inspect: %v", err)
		}
	}
	inspect()
	en := views[0].Limits.Enforced
	if !en.CPU || !en.Memory || !en.Pids || en.CPUs != 0.5 || en.MemoryBytes != 96<<20 || en.PidsMax != 64 || en.PidsMethod != "cgroup" {
		t.Fatalf("inspect does not show the limits as enforced: %+v", en)
	}
	if en.Scope != "paddock-"+views[0].ID+".scope" {
		t.Fatalf("the sandbox is not in a systemd scope of its own: %+v", en)
	}
	// The control files, as the kernel has them.
	top := "/sys/fs/cgroup"
	if os.Geteuid() != 0 {
		uid := strconv.Itoa(os.Geteuid())
		top = filepath.Join(top, "user.slice", "user-"+uid+".slice", "user@"+uid+".service")
	}
	scope := filepath.Join(top, "paddock.slice", en.Scope)
	for file, want := range map[string]string{
		"sandbox/memory.max": strconv.Itoa(96 << 20), "sandbox/cpu.max": "50000 100000", "sandbox/pids.max": "64",
		"supervisor/memory.max": strconv.Itoa(256 << 20), "supervisor/pids.max": "512",
	} {
		b, err := os.ReadFile(filepath.Join(scope, file))
		if err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s/%s is %q (%v), want %q", scope, file, b, err, want)
		}
	}
	// A memory hog is killed inside its sandbox; the sandbox and the host stay up.
	r := e.run("", "exec", "shell-lim", "python3", "-c", "b = bytearray(400 << 20); print('survived')")
	if r.code == 0 || strings.Contains(r.stdout, "survived") {
		t.Fatalf("a 400 MiB allocation under a 96 MiB limit was not stopped: %s", r)
	}
	inspect()
	if views[0].State.OOMKills < 1 {
		t.Errorf("inspect shows no OOM kill after the hog died")
	}
	if out := e.ok("", "exec", "shell-lim", "echo", "alive"); out != "alive\n" {
		t.Fatalf("the sandbox did not survive its memory hog: %q", out)
	}
	// The pids limit: 100 sleepers cannot all start (long sleeps: starting 100 processes under
	// software emulation takes seconds; killed by the shell's builtin, as no fork is left).
	r = e.run("", "exec", "shell-lim", "sh", "-c", `p=; for i in $(seq 100); do sleep 120 >/dev/null 2>&1 & p="$p $!"; done 2>/dev/null; kill $p 2>/dev/null; true`)
	inspect()
	if views[0].State.PidsLimitHits < 1 {
		t.Errorf("100 processes under a limit of 64 never hit it: %s", r)
	}
	e.ok("", "stop", "shell-lim")
}
