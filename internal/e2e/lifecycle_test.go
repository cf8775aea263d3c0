package e2e

// End-to-end tests of the core lifecycle (issue 2): run, create, exec, ls, inspect, stop, rm,
// naming, persistence, isolation of the host template, configuration drift and limits. Every
// test drives the built binary and asserts on what a user sees: stdout, stderr, exit codes and
// files on the host.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------------------------
// Helpers (prefixed lc, for "lifecycle", so that they do not collide with other test files).

// lcEntry is one element of `paddock ls --json`.
type lcEntry struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Agent     string    `json:"agent"`
	Workspace string    `json:"workspace"`
	Status    string    `json:"status"`
	Created   time.Time `json:"created"`
}

// lcLs runs `paddock ls [args] --json` and decodes it, checking that every element carries the
// documented keys.
func lcLs(t *testing.T, e *env, args ...string) []lcEntry {
	t.Helper()
	out := e.ok("", append([]string{"ls", "--json"}, args...)...)
	var raw []map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("ls --json: not a JSON array: %v\n%s", err, out)
	}
	for _, m := range raw {
		for _, k := range []string{"id", "name", "agent", "workspace", "status", "created"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("ls --json: element without %q: %v", k, m)
			}
		}
	}
	var entries []lcEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("ls --json: %v\n%s", err, out)
	}
	return entries
}

// lcFind returns the ls entry called name, or nil.
func lcFind(entries []lcEntry, name string) *lcEntry {
	for i := range entries {
		if entries[i].Name == name {
			return &entries[i]
		}
	}
	return nil
}

func lcNames(entries []lcEntry) []string {
	var n []string
	for _, en := range entries {
		n = append(n, en.Name)
	}
	slices.Sort(n)
	return n
}

// lcInspect runs `paddock inspect refs...` and returns the decoded JSON array.
func lcInspect(t *testing.T, e *env, refs ...string) []map[string]any {
	t.Helper()
	out := e.ok("", append([]string{"inspect"}, refs...)...)
	var v []map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("inspect: not a JSON array: %v\n%s", err, out)
	}
	if len(v) != len(refs) {
		t.Fatalf("inspect %v: want %d elements, got %d:\n%s", refs, len(refs), len(v), out)
	}
	return v
}

// lcGet walks a decoded JSON value along a dotted path ("mounts.workspace.source").
func lcGet(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func lcString(t *testing.T, v any, path string) string {
	t.Helper()
	x, ok := lcGet(v, path)
	if !ok {
		t.Fatalf("inspect: no %s in %s", path, lcJSON(v))
	}
	s, ok := x.(string)
	if !ok {
		t.Fatalf("inspect: %s is %T, want a string", path, x)
	}
	return s
}

func lcBool(t *testing.T, v any, path string) bool {
	t.Helper()
	x, ok := lcGet(v, path)
	if !ok {
		t.Fatalf("inspect: no %s in %s", path, lcJSON(v))
	}
	b, ok := x.(bool)
	if !ok {
		t.Fatalf("inspect: %s is %T, want a bool", path, x)
	}
	return b
}

func lcNumber(t *testing.T, v any, path string) float64 {
	t.Helper()
	x, ok := lcGet(v, path)
	if !ok {
		t.Fatalf("inspect: no %s in %s", path, lcJSON(v))
	}
	f, ok := x.(float64)
	if !ok {
		t.Fatalf("inspect: %s is %T, want a number", path, x)
	}
	return f
}

func lcArray(t *testing.T, v any, path string) []any {
	t.Helper()
	x, ok := lcGet(v, path)
	if !ok {
		t.Fatalf("inspect: no %s in %s", path, lcJSON(v))
	}
	a, ok := x.([]any)
	if !ok {
		t.Fatalf("inspect: %s is %T, want an array", path, x)
	}
	return a
}

func lcJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// lcPids returns state.pids of an inspected sandbox.
func lcPids(t *testing.T, v any) []int {
	t.Helper()
	var pids []int
	for _, p := range lcArray(t, v, "state.pids") {
		f, ok := p.(float64)
		if !ok {
			t.Fatalf("inspect: state.pids holds %T", p)
		}
		pids = append(pids, int(f))
	}
	return pids
}

// lcLines splits output into its non-empty lines.
func lcLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// lcWant checks a command's exit code and exact stdout.
func lcWant(t *testing.T, what string, r result, code int, stdout string) {
	t.Helper()
	if r.code != code || r.stdout != stdout {
		t.Fatalf("%s: want exit %d and stdout %q, got %s", what, code, stdout, r)
	}
}

// lcOneLineError checks that a command failed with exactly one stderr line "paddock: ..."
// containing every one of want (case-insensitive), and printed nothing on stdout.
func lcOneLineError(t *testing.T, what string, r result, want ...string) {
	t.Helper()
	lines := lcLines(r.stderr)
	switch {
	case r.code == 0:
		t.Errorf("%s: want a non-zero exit, got %s", what, r)
	case len(lines) != 1:
		t.Errorf("%s: want exactly one line on stderr, got %d: %s", what, len(lines), r)
	case !strings.HasPrefix(lines[0], "paddock: "):
		t.Errorf("%s: stderr should start with \"paddock: \", got %q", what, lines[0])
	case r.stdout != "":
		t.Errorf("%s: want nothing on stdout, got %q", what, r.stdout)
	default:
		for _, w := range want {
			if !strings.Contains(strings.ToLower(lines[0]), strings.ToLower(w)) {
				t.Errorf("%s: the error should mention %q, got %q", what, w, lines[0])
			}
		}
	}
}

// host runs a command on the host as the env's user, with its HOME, and returns its stdout.
func (e *env) lcHost(dir string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + e.home, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	if e.mode == asRootless {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(e.uid), Gid: uint32(e.gid)}}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %v: %v: %s", name, args, err, stderr.String())
	}
	return string(out), nil
}

// lcOwner returns the host uid and gid of a file.
func lcOwner(t *testing.T, p string) (int, int) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatalf("on the host: %v", err)
	}
	s := st.Sys().(*syscall.Stat_t)
	return int(s.Uid), int(s.Gid)
}

// lcProc identifies a host process across pid reuse: its start time and command line.
type lcProc struct {
	pid   int
	start string
	cmd   string
}

func lcProcOf(pid int) (lcProc, bool) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return lcProc{}, false
	}
	s := string(st)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return lcProc{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return lcProc{}, false
	}
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return lcProc{pid: pid, start: f[19], cmd: strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))}, true
}

// lcAlive reports which of procs still run on the host (same pid and start time), waiting up to
// wait for them to go.
func lcAlive(procs []lcProc, wait time.Duration) []lcProc {
	deadline := time.Now().Add(wait)
	for {
		var alive []lcProc
		for _, p := range procs {
			if cur, ok := lcProcOf(p.pid); ok && cur.start == p.start {
				// A zombie that is not reaped yet is gone for the user's purposes.
				if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid)); err == nil {
					s := string(st)
					if i := strings.LastIndexByte(s, ')'); i > 0 && strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z") {
						continue
					}
				}
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lcSnapshot records every file and folder under dir with its content, so that a later
// snapshot shows whether anything was lost or changed.
func lcSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case info.IsDir():
			snap[rel] = "<dir>"
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			snap[rel] = string(b)
		default:
			snap[rel] = info.Mode().String()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", dir, err)
	}
	return snap
}

func lcSameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if got, ok := after[k]; !ok {
			t.Errorf("%s: %s is gone from the workspace", what, k)
		} else if got != v {
			t.Errorf("%s: %s changed: %q -> %q", what, k, v, got)
		}
	}
}

// lcCgroupFile reads a cgroup interface file of a host process: the v1 hierarchy holding
// controller if there is one, else the unified (v2) group.
func lcCgroupFile(t *testing.T, pid int, controller, v1file, v2file string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatalf("cgroup of pid %d: %v", pid, err)
	}
	var p string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[1] != "" && slices.Contains(strings.Split(f[1], ","), controller) {
			p = filepath.Join("/sys/fs/cgroup", f[1], f[2], v1file)
			break
		}
		if f[0] == "0" && f[1] == "" {
			p = filepath.Join("/sys/fs/cgroup", f[2], v2file)
		}
	}
	if p == "" {
		t.Fatalf("pid %d is in no %s cgroup:\n%s", pid, controller, b)
	}
	v, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return strings.TrimSpace(string(v))
}

// lcUniquePrefix returns the shortest prefix (at least 5 characters) of id that no other ID shares.
func lcUniquePrefix(id string, entries []lcEntry) string {
	for n := 5; n < len(id); n++ {
		unique := true
		for _, en := range entries {
			if en.ID != id && strings.HasPrefix(en.ID, id[:n]) {
				unique = false
			}
		}
		if unique {
			return id[:n]
		}
	}
	return id
}

// ---------------------------------------------------------------------------------------------

// TestLifecycleNaming: one sandbox per (workspace, agent), default and unique names, --name,
// and addressing a sandbox by name, full ID and unique ID prefix.
func TestLifecycleNaming(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		wsA := e.workspace("a/proj")
		wsB := e.workspace("b/proj")
		wsC := e.workspace("c/other")

		e.ok(wsA, "run", "shell", "-c", "true")
		first := lcLs(t, e, "-a")
		e.ok(wsA, "run", "shell", "-c", "true")
		second := lcLs(t, e, "-a")
		if len(first) != 1 || len(second) != 1 || first[0].ID != second[0].ID {
			t.Fatalf("two runs in one folder should share one sandbox:\nafter the first: %+v\nafter the second: %+v", first, second)
		}
		a := second[0]
		if a.Name != "shell-proj" || a.Agent != "shell" || a.Workspace != wsA || len(a.ID) != 64 {
			t.Fatalf("want sandbox shell-proj of agent shell for %s with a 64-character ID, got %+v", wsA, a)
		}

		e.ok(wsB, "run", "shell", "-c", "true")
		entries := lcLs(t, e, "-a")
		b := lcFind(entries, "shell-proj-2")
		if len(entries) != 2 || b == nil || b.Workspace != wsB {
			t.Fatalf("a second folder called proj should get shell-proj-2, got %+v", entries)
		}

		r := e.run(wsC, "create", "--name", "my-box", "shell")
		lcWant(t, "create --name my-box", r, 0, "my-box\n")
		r = e.run(wsC, "run", "shell", "-c", "hostname")
		lcWant(t, "run shell in the folder of my-box", r, 0, "my-box\n")
		entries = lcLs(t, e, "-a")
		if c := lcFind(entries, "my-box"); len(entries) != 3 || c == nil || c.Workspace != wsC {
			t.Fatalf("want my-box for %s among 3 sandboxes, got %+v", wsC, entries)
		}

		refs := []struct{ how, ref string }{
			{"name", "shell-proj"},
			{"full ID", a.ID},
			{"unique ID prefix", lcUniquePrefix(a.ID, entries)},
		}
		for _, ref := range refs {
			v := lcInspect(t, e, ref.ref)
			if id := lcString(t, v[0], "id"); id != a.ID {
				t.Errorf("inspect by %s %q: got sandbox %s, want %s", ref.how, ref.ref, id, a.ID)
			}
			r := e.run("", "exec", ref.ref, "hostname")
			if r.code != 0 || r.stdout != "shell-proj\n" {
				t.Errorf("exec by %s %q: want shell-proj, got %s", ref.how, ref.ref, r)
			}
		}

		// `run NAME` runs the agent of an existing sandbox, from any folder.
		for _, c := range []struct{ name, ws string }{{"shell-proj", wsA}, {"shell-proj-2", wsB}, {"my-box", wsC}} {
			r := e.run(e.dir, "run", c.name, "-c", "pwd; hostname")
			lcWant(t, "run "+c.name, r, 0, c.ws+"\n"+c.name+"\n")
		}
		if got := lcNames(lcLs(t, e, "-a")); !slices.Equal(got, []string{"my-box", "shell-proj", "shell-proj-2"}) {
			t.Fatalf("run NAME must not create sandboxes; have %v", got)
		}
	})
}

// TestLifecycleWorkspace: the workspace is bind-mounted read-write at its own path and is the
// starting folder; files made inside belong to the invoking host user; git commits made inside
// carry the host's git identity.
func TestLifecycleWorkspace(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("proj")
		e.writeFile(filepath.Join(ws, "from-host.txt"), "written on the host\n")

		script := `pwd; id -u; cat from-host.txt
awk -v ws="$PWD" '$5 == ws { print "mountpoint" }' /proc/self/mountinfo
echo made inside > made-inside.txt; mkdir made-dir; echo nested > made-dir/nested.txt`
		r := e.run(ws, "run", "shell", "-c", script)
		lcWant(t, "run in the workspace", r, 0, ws+"\n0\nwritten on the host\nmountpoint\n")

		for _, p := range []string{"made-inside.txt", "made-dir", "made-dir/nested.txt"} {
			uid, gid := lcOwner(t, filepath.Join(ws, p))
			if uid != e.uid || gid != e.gid {
				t.Errorf("%s made by root inside the sandbox is owned by %d:%d on the host, want the invoking user %d:%d", p, uid, gid, e.uid, e.gid)
			}
		}
		if b, err := os.ReadFile(filepath.Join(ws, "made-dir/nested.txt")); err != nil || string(b) != "nested\n" {
			t.Errorf("file written inside is not on the host: %q, %v", b, err)
		}

		// Git identity.
		r = e.run(ws, "run", "shell", "-c", "git init -q && git commit -q --allow-empty -m x && git config --global user.name")
		lcWant(t, "git commit inside", r, 0, "Paddock Tester\n")
		out, err := e.lcHost(ws, "git", "log", "-1", "--format=%an <%ae>|%cn <%ce>")
		if err != nil {
			t.Fatal(err)
		}
		want := "Paddock Tester <tester@paddock.test>"
		if strings.TrimSpace(out) != want+"|"+want {
			t.Errorf("commit made inside: want author and committer %q, got %q", want, strings.TrimSpace(out))
		}
	})
}

// TestLifecyclePersistence: home, /tmp, /var/tmp files and an `npm install -g` survive the agent
// exiting and stop/start, and are visible to exec.
func TestLifecyclePersistence(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("proj")
		pkg := e.mkdir(filepath.Join(ws, "pkg"))
		e.writeFile(filepath.Join(pkg, "package.json"), `{"name":"pd-hello","version":"1.0.0","bin":{"pd-hello":"hello.js"}}`+"\n")
		e.writeFile(filepath.Join(pkg, "hello.js"), "#!/usr/bin/env node\nconsole.log('hello from pd-hello')\n")
		os.Chmod(filepath.Join(pkg, "hello.js"), 0o755)

		// There is no network inside: install the local package by path, copying it.
		setup := `echo home-data > ~/p-home && echo tmp-data > /tmp/p-tmp && echo vartmp-data > /var/tmp/p-vartmp &&
npm install -g --install-links --offline --no-audit --no-fund ./pkg >/dev/null`
		r := e.run(ws, "run", "shell", "-c", setup)
		if r.code != 0 {
			t.Fatalf("writing state and npm install -g: %s", r)
		}
		// The installed command must not depend on the workspace copy.
		if err := os.RemoveAll(pkg); err != nil {
			t.Fatal(err)
		}

		files := "cat ~/p-home /tmp/p-tmp /var/tmp/p-vartmp"
		wantFiles := "home-data\ntmp-data\nvartmp-data\n"
		withCmd := files + "; pd-hello"
		wantCmd := wantFiles + "hello from pd-hello\n"

		lcWant(t, "after the agent exited: run", e.run(ws, "run", "shell", "-c", withCmd), 0, wantCmd)
		lcWant(t, "after the agent exited: exec", e.run("", "exec", "shell-proj", "sh", "-c", files), 0, wantFiles)

		e.ok("", "stop", "shell-proj")
		if en := lcFind(lcLs(t, e, "-a"), "shell-proj"); en == nil || en.Status != "stopped" {
			t.Fatalf("after stop, want status stopped, got %+v", en)
		}
		lcWant(t, "after stop: run", e.run(ws, "run", "shell", "-c", withCmd), 0, wantCmd)

		e.ok("", "stop", "shell-proj")
		lcWant(t, "after stop: exec", e.run("", "exec", "shell-proj", "sh", "-c", files), 0, wantFiles)
	})
}

// TestLifecycleIsolation: what the host template shows and hides.
func TestLifecycleIsolation(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		marker := "paddock-e2e-marker-" + filepath.Base(e.dir)
		rootMarker := filepath.Join("/root", marker)
		userHome := filepath.Join("/home", testUser)
		userMarker := filepath.Join(userHome, marker)
		envHomeMarker := filepath.Join(e.home, marker)
		for _, p := range []string{rootMarker, userMarker, envHomeMarker} {
			if err := os.WriteFile(p, []byte("secret\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(p) })
		}
		hostInit, _ := os.ReadFile("/proc/1/cmdline")
		hostInitCmd := strings.TrimSpace(strings.ReplaceAll(string(hostInit), "\x00", " "))
		self := filepath.Base(os.Args[0])

		ws := e.workspace("proj")
		e.ok(ws, "run", "shell", "-c", "true")
		t.Cleanup(func() { os.Remove("/usr/paddock-e2e-probe") })

		wantMap := "0 1073741824 65536"
		if e.mode == asRootless {
			wantMap = fmt.Sprintf("0 %d 1", e.uid)
			if start, n, ok := subUIDRange(testUser); ok {
				// With subordinate ids (and newuidmap) they are mapped after root.
				wantMap += fmt.Sprintf(" 1 %d %d", start, min(n, 65535))
			}
		}
		cases := []struct {
			name  string
			cmd   string
			check func(r result) string // "" when fine, else what is wrong
		}{
			{"/etc/shadow reads empty", "wc -c < /etc/shadow", func(r result) string {
				if r.code != 0 || strings.TrimSpace(r.stdout) != "0" {
					return "want an empty, readable /etc/shadow"
				}
				return ""
			}},
			{"host /root is not visible", "ls -A /root; cat " + rootMarker + " 2>/dev/null && echo VISIBLE; true", func(r result) string {
				if strings.Contains(r.stdout, marker) || strings.Contains(r.stdout, "VISIBLE") {
					return "the host's /root shows through"
				}
				return ""
			}},
			{"host home folders are not visible", "cat " + userMarker + " " + envHomeMarker + " 2>/dev/null && echo VISIBLE; true", func(r result) string {
				if strings.Contains(r.stdout, "VISIBLE") || strings.Contains(r.stdout, "secret") {
					return "a host home folder shows through"
				}
				return ""
			}},
			{"/home is empty", "ls -A /home", func(r result) string {
				if r.code != 0 || r.stdout != "" {
					return "want an empty /home"
				}
				return ""
			}},
			{"/usr is read-only", "touch /usr/paddock-e2e-probe", func(r result) string {
				if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
					return "touch in /usr should fail with Read-only file system"
				}
				return ""
			}},
			{"only sandbox processes", `for p in /proc/[0-9]*; do printf '%s ' "${p#/proc/}"; tr '\0' ' ' < "$p/cmdline"; echo; done`, func(r result) string {
				lines := lcLines(r.stdout)
				if r.code != 0 || len(lines) == 0 || len(lines) > 8 {
					return fmt.Sprintf("want a handful of sandbox processes, got %d", len(lines))
				}
				for _, l := range lines {
					pid, cmd, _ := strings.Cut(l, " ")
					cmd = strings.TrimSpace(cmd)
					if pid == "1" && !strings.Contains(cmd, "paddock-init") {
						return "PID 1 is not the sandbox's init"
					}
					if cmd == hostInitCmd || strings.Contains(cmd, self) {
						return "a host process is visible: " + l
					}
				}
				return ""
			}},
			{"hostname is the sandbox name", "hostname; cat /etc/hostname", func(r result) string {
				if r.stdout != "shell-proj\nshell-proj\n" {
					return "want hostname shell-proj"
				}
				return ""
			}},
			{"only loopback", "ls /sys/class/net", func(r result) string {
				if r.code != 0 || r.stdout != "lo\n" {
					return "want only lo"
				}
				return ""
			}},
			{"root inside is not root outside", "cat /proc/self/uid_map", func(r result) string {
				f := strings.Fields(r.stdout)
				if len(f) < 2 || f[1] == "0" || strings.Join(f, " ") != wantMap {
					return "want uid_map " + wantMap
				}
				return ""
			}},
		}
		for _, c := range cases {
			r := e.run("", "exec", "shell-proj", "sh", "-c", c.cmd)
			if msg := c.check(r); msg != "" {
				t.Errorf("%s: %s; got %s", c.name, msg, r)
			}
		}
		if _, err := os.Stat("/usr/paddock-e2e-probe"); err == nil {
			t.Errorf("the sandbox created a file in the host's /usr")
		}
	})
}

// TestLifecycleEnvAndVolumes: -e KEY=VAL, -e KEY, --env-file, -v HOST:SANDBOX:ro, -v HOST, and
// the extra workspaces of create.
func TestLifecycleEnvAndVolumes(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		e.extra = append(e.extra, "PD_E2E_PASS=from-host-env")
		envFile := filepath.Join(e.dir, "vars.env")
		e.writeFile(envFile, "# a comment\nPD_E2E_FILE=from-file\n\nexport PD_E2E_EXPORTED=yes\n")
		roDir := e.mkdir(filepath.Join(e.dir, "ro-src"))
		e.writeFile(filepath.Join(roDir, "data.txt"), "ro-data\n")
		rwDir := e.mkdir(filepath.Join(e.dir, "rw-shared"))

		ws := e.workspace("proj")
		script := `echo "set=$PD_E2E_SET"; echo "pass=$PD_E2E_PASS"; echo "file=$PD_E2E_FILE"; echo "exported=$PD_E2E_EXPORTED"
cat /mnt/ro/data.txt
if touch /mnt/ro/new 2>/dev/null; then echo ro-writable; else echo ro-refused; fi
echo rw > ` + rwDir + `/from-sandbox && echo rw-ok`
		r := e.run(ws, "run", "-e", "PD_E2E_SET=a=b c", "-e", "PD_E2E_PASS", "--env-file", envFile,
			"-v", roDir+":/mnt/ro:ro", "-v", rwDir, "shell", "-c", script)
		lcWant(t, "run with -e, --env-file and -v", r, 0,
			"set=a=b c\npass=from-host-env\nfile=from-file\nexported=yes\nro-data\nro-refused\nrw-ok\n")
		if _, err := os.Stat(filepath.Join(roDir, "new")); err == nil {
			t.Errorf("a file appeared in the read-only volume on the host")
		}
		if b, err := os.ReadFile(filepath.Join(rwDir, "from-sandbox")); err != nil || string(b) != "rw\n" {
			t.Errorf("-v HOST: the file written inside is not on the host: %q %v", b, err)
		} else if uid, _ := lcOwner(t, filepath.Join(rwDir, "from-sandbox")); uid != e.uid {
			t.Errorf("-v HOST: file written inside is owned by %d on the host, want %d", uid, e.uid)
		}
		// The settings belong to the sandbox: exec sees them too.
		lcWant(t, "exec sees -e", e.run("", "exec", "shell-proj", "sh", "-c", `echo "$PD_E2E_SET|$PD_E2E_FILE"`), 0, "a=b c|from-file\n")

		// create with an extra read-only workspace: printed, not started, shown at its own path.
		ws2 := e.workspace("proj2")
		docs := e.mkdir(filepath.Join(e.dir, "docs"))
		e.writeFile(filepath.Join(docs, "readme.txt"), "docs\n")
		lcWant(t, "create shell WS EXTRA:ro", e.run(e.dir, "create", "shell", ws2, docs+":ro"), 0, "shell-proj2\n")
		if lcFind(lcLs(t, e), "shell-proj2") != nil {
			t.Errorf("ls without -a lists the created sandbox: create must not start it")
		}
		if en := lcFind(lcLs(t, e, "-a"), "shell-proj2"); en == nil || (en.Status != "stopped" && en.Status != "created") || en.Workspace != ws2 {
			t.Errorf("ls -a: want shell-proj2 for %s, stopped or created, got %+v", ws2, en)
		}
		v := lcInspect(t, e, "shell-proj2")[0]
		extra := lcArray(t, v, "mounts.extra")
		if len(extra) != 1 || lcString(t, extra[0], "source") != docs || lcString(t, extra[0], "target") != docs || !lcBool(t, extra[0], "read_only") {
			t.Errorf("inspect: want mounts.extra = [%s read-only at its own path], got %s", docs, lcJSON(extra))
		}
		r = e.run("", "exec", "shell-proj2", "sh", "-c", "pwd; cat "+docs+"/readme.txt; if touch "+docs+"/x 2>/dev/null; then echo writable; else echo refused; fi")
		lcWant(t, "extra workspace inside", r, 0, ws2+"\ndocs\nrefused\n")
		if _, err := os.Stat(filepath.Join(docs, "x")); err == nil {
			t.Errorf("a file appeared in the read-only extra workspace on the host")
		}
	})
}

// TestLifecycleExec: exit codes, -e, -w, -i, -u, separate streams, starting a stopped sandbox.
func TestLifecycleExec(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("proj")
		lcWant(t, "run -d", e.run(ws, "run", "-d", "shell"), 0, "shell-proj\n")

		cases := []struct {
			name   string
			stdin  string
			args   []string
			code   int
			stdout string
		}{
			{"exit code passed through", "", []string{"sh", "-c", "exit 42"}, 42, ""},
			{"false", "", []string{"false"}, 1, ""},
			{"default folder is the workspace", "", []string{"pwd"}, 0, ws + "\n"},
			{"-w", "", []string{"-w", "/tmp", "shell-proj", "pwd"}, 0, "/tmp\n"},
			{"-e", "", []string{"-e", "PD_X=1", "-e", "PD_Y=two words", "shell-proj", "sh", "-c", `echo "$PD_X $PD_Y"`}, 0, "1 two words\n"},
			{"-i streams stdin", "hello paddock\n", []string{"-i", "shell-proj", "wc", "-c"}, 0, "14\n"},
			{"without -i stdin is not attached", "hello paddock\n", []string{"shell-proj", "wc", "-c"}, 0, "0\n"},
			{"root by default", "", []string{"id", "-u"}, 0, "0\n"},
		}
		for _, c := range cases {
			args := c.args
			if !slices.Contains(args, "shell-proj") {
				args = append([]string{"shell-proj"}, args...)
			}
			r := e.runInput("", c.stdin, append([]string{"exec"}, args...)...)
			if r.code != c.code || r.stdout != c.stdout {
				t.Errorf("exec %s: want exit %d stdout %q, got %s", c.name, c.code, c.stdout, r)
			}
		}

		r := e.run("", "exec", "shell-proj", "sh", "-c", "echo out; echo err >&2")
		if r.code != 0 || r.stdout != "out\n" || !strings.Contains(r.stderr, "err") || strings.Contains(r.stderr, "out") {
			t.Errorf("exec: stdout and stderr should stream separately, got %s", r)
		}

		r = e.run("", "exec", "-u", "nobody", "shell-proj", "id", "-u")
		if _, _, sub := subUIDRange(testUser); e.mode == asRoot || sub {
			lcWant(t, "exec -u nobody", r, 0, "65534\n")
		} else {
			// A rootless sandbox maps only root: say so, plainly.
			lcOneLineError(t, "rootless exec -u nobody", r, "nobody")
		}

		e.ok("", "stop", "shell-proj")
		lcWant(t, "exec on a stopped sandbox", e.run("", "exec", "shell-proj", "cat", "/etc/hostname"), 0, "shell-proj\n")
		if en := lcFind(lcLs(t, e), "shell-proj"); en == nil || en.Status != "running" {
			t.Errorf("exec should have started the sandbox; ls shows %+v", en)
		}
	})
}

// TestLifecycleLsInspect: ls (running only, -a, -q, --json) and inspect's JSON.
func TestLifecycleLsInspect(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		wsRun := e.workspace("running")
		wsNew := e.workspace("created")
		vol := e.mkdir(filepath.Join(e.dir, "vol"))
		start := time.Now().Add(-time.Minute)

		lcWant(t, "run -d", e.run(wsRun, "run", "-d", "-e", "FOO=bar", "-v", vol+":/mnt/vol:ro", "shell"), 0, "shell-running\n")
		lcWant(t, "create", e.run(wsNew, "create", "shell"), 0, "shell-created\n")

		running := lcLs(t, e)
		all := lcLs(t, e, "-a")
		if got := lcNames(running); !slices.Equal(got, []string{"shell-running"}) {
			t.Errorf("ls: want only the running sandbox, got %v", got)
		}
		if got := lcNames(all); !slices.Equal(got, []string{"shell-created", "shell-running"}) {
			t.Fatalf("ls -a: want both sandboxes, got %v", got)
		}
		for _, en := range all {
			if en.Agent != "shell" || en.Created.Before(start) || en.Created.After(time.Now().Add(time.Minute)) {
				t.Errorf("ls -a --json: bad agent or created time: %+v", en)
			}
		}
		runID := lcFind(all, "shell-running").ID
		newID := lcFind(all, "shell-created").ID
		if en := lcFind(all, "shell-created"); en.Status != "stopped" && en.Status != "created" {
			t.Errorf("ls -a: a created sandbox should be stopped or created, got %q", en.Status)
		}

		// Plain ls: one line per running sandbox, naming it.
		out := e.ok("", "ls")
		if lines := lcLines(out); len(lines) != 1 || !strings.Contains(lines[0], "shell-running") || !strings.Contains(lines[0], runID[:12]) {
			t.Errorf("ls: want one line for shell-running, got %q", out)
		}
		idRE := regexp.MustCompile(`^[0-9a-f]{12}$`)
		for _, c := range []struct {
			args []string
			want []string
		}{
			{[]string{"ls", "-q"}, []string{runID[:12]}},
			{[]string{"ls", "-a", "-q"}, []string{newID[:12], runID[:12]}},
		} {
			lines := lcLines(e.ok("", c.args...))
			slices.Sort(lines)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(lines, want) {
				t.Errorf("%v: want %v, got %v", c.args, want, lines)
			}
			for _, l := range lines {
				if !idRE.MatchString(l) {
					t.Errorf("%v: %q is not a 12-character ID", c.args, l)
				}
			}
		}

		views := lcInspect(t, e, "shell-running", "shell-created")
		v := views[0]
		if lcString(t, v, "template") != "host" {
			t.Errorf("inspect: template should be host")
		}
		if lcString(t, v, "mounts.workspace.source") != wsRun || lcString(t, v, "mounts.workspace.target") != wsRun {
			t.Errorf("inspect: mounts.workspace should be %s at its own path: %s", wsRun, lcJSON(v["mounts"]))
		}
		lcArray(t, v, "mounts.extra")
		vols := lcArray(t, v, "mounts.volumes")
		if len(vols) != 1 || lcString(t, vols[0], "source") != vol || lcString(t, vols[0], "target") != "/mnt/vol" || !lcBool(t, vols[0], "read_only") {
			t.Errorf("inspect: mounts.volumes should hold %s at /mnt/vol read-only: %s", vol, lcJSON(vols))
		}
		if env := lcArray(t, v, "env"); !slices.Contains(env, any("FOO=bar")) {
			t.Errorf("inspect: env should hold FOO=bar: %v", env)
		}
		if _, ok := lcGet(v, "limits.requested"); !ok {
			t.Errorf("inspect: no limits.requested: %s", lcJSON(v["limits"]))
		}
		if _, ok := lcGet(v, "limits.enforced"); !ok {
			t.Errorf("inspect: a running sandbox shows no limits.enforced: %s", lcJSON(v["limits"]))
		} else {
			lcString(t, v, "limits.enforced.driver")
			lcBool(t, v, "limits.enforced.pids")
		}
		if lcString(t, v, "state.status") != "running" {
			t.Errorf("inspect: state.status should be running")
		}
		if pids := lcPids(t, v); len(pids) < 2 {
			t.Errorf("inspect: state.pids should list the supervisor and the init, got %v", pids)
		}
		if lcString(t, views[1], "state.status") != "stopped" && lcString(t, views[1], "state.status") != "created" {
			t.Errorf("inspect: the created sandbox should be stopped, got %s", lcJSON(views[1]["state"]))
		}
		if _, ok := lcGet(views[1], "state.pids"); ok {
			t.Errorf("inspect: a stopped sandbox should list no pids: %s", lcJSON(views[1]["state"]))
		}
	})
}

// TestLifecycleStopRm: stop ends every process of the sandbox; rm removes its state and never
// the workspace's files; rm of a running sandbox needs -f; rm --all.
func TestLifecycleStopRm(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("proj")
		for p, content := range map[string]string{"a.txt": "a\n", ".hidden": "h\n", "sub/b.txt": "b\n", "sub/deeper/c.txt": "c\n"} {
			e.mkdir(filepath.Dir(filepath.Join(ws, p)))
			e.writeFile(filepath.Join(ws, p), content)
		}
		e.mkdir(filepath.Join(ws, "empty-dir"))

		e.ok(ws, "run", "-d", "shell")
		// A background process that outlives its exec.
		e.ok("", "exec", "shell-proj", "sh", "-c", "nohup sleep 1000 >/dev/null 2>&1 &")
		e.ok("", "exec", "shell-proj", "sh", "-c", "echo from-sandbox > made-inside.txt")
		before := lcSnapshot(t, ws)

		v := lcInspect(t, e, "shell-proj")[0]
		stateDir := lcString(t, v, "paths.state")
		var procs []lcProc
		for _, pid := range lcPids(t, v) {
			if p, ok := lcProcOf(pid); ok {
				procs = append(procs, p)
			}
		}
		if len(procs) < 3 {
			t.Fatalf("want the supervisor, the init and sleep among the sandbox's pids, got %+v", procs)
		}

		r := e.run("", "rm", "shell-proj")
		lcOneLineError(t, "rm of a running sandbox", r, "shell-proj", "-f")
		if en := lcFind(lcLs(t, e), "shell-proj"); en == nil {
			t.Fatalf("rm without -f removed or stopped a running sandbox")
		}

		lcWant(t, "stop", e.run("", "stop", "shell-proj"), 0, "shell-proj\n")
		if en := lcFind(lcLs(t, e, "-a"), "shell-proj"); en == nil || en.Status != "stopped" {
			t.Errorf("after stop: want status stopped, got %+v", en)
		}
		if s := lcString(t, lcInspect(t, e, "shell-proj")[0], "state.status"); s != "stopped" {
			t.Errorf("after stop: inspect says %s", s)
		}
		if alive := lcAlive(procs, 2*time.Second); len(alive) > 0 {
			t.Errorf("after stop, processes of the sandbox still run on the host: %+v", alive)
		}

		lcWant(t, "rm", e.run("", "rm", "shell-proj"), 0, "shell-proj\n")
		if _, err := os.Stat(stateDir); err == nil || len(e.sandboxDirs()) != 0 {
			t.Errorf("rm left the state folder %s behind (%v)", stateDir, e.sandboxDirs())
		}
		lcSameSnapshot(t, "rm", before, lcSnapshot(t, ws))

		// rm -f of a running sandbox.
		e.ok(ws, "run", "-d", "shell")
		e.ok("", "exec", "shell-proj", "sh", "-c", "echo second > made-inside-2.txt")
		before = lcSnapshot(t, ws)
		procs = nil
		for _, pid := range lcPids(t, lcInspect(t, e, "shell-proj")[0]) {
			if p, ok := lcProcOf(pid); ok {
				procs = append(procs, p)
			}
		}
		lcWant(t, "rm -f of a running sandbox", e.run("", "rm", "-f", "shell-proj"), 0, "shell-proj\n")
		if dirs := e.sandboxDirs(); len(dirs) != 0 {
			t.Errorf("rm -f left sandbox folders: %v", dirs)
		}
		if alive := lcAlive(procs, 2*time.Second); len(alive) > 0 {
			t.Errorf("after rm -f, processes of the sandbox still run on the host: %+v", alive)
		}
		lcSameSnapshot(t, "rm -f", before, lcSnapshot(t, ws))

		// rm --all: a stopped and a created sandbox.
		ws2 := e.workspace("proj2")
		e.writeFile(filepath.Join(ws2, "keep.txt"), "keep\n")
		e.ok(ws, "run", "shell", "-c", "true")
		e.ok("", "stop", "shell-proj")
		e.ok(ws2, "create", "shell")
		before, before2 := lcSnapshot(t, ws), lcSnapshot(t, ws2)
		r = e.run("", "rm", "--all")
		if r.code != 0 {
			t.Errorf("rm --all: %s", r)
		}
		if got := lcLs(t, e, "-a"); len(got) != 0 {
			t.Errorf("rm --all left %+v", got)
		}
		if dirs := e.sandboxDirs(); len(dirs) != 0 {
			t.Errorf("rm --all left sandbox folders: %v", dirs)
		}
		lcSameSnapshot(t, "rm --all", before, lcSnapshot(t, ws))
		lcSameSnapshot(t, "rm --all", before2, lcSnapshot(t, ws2))
	})
}

// TestLifecycleDrift: changed settings are never ignored silently; --recreate keeps the home.
func TestLifecycleDrift(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("proj")
		e.ok(ws, "run", "shell", "-c", "echo kept > ~/marker")
		id := lcLs(t, e, "-a")[0].ID

		r := e.run(ws, "run", "-e", "FOO=1", "shell", "-c", "true")
		lcOneLineError(t, "run -e FOO=1 on a sandbox created without it", r, "--recreate")
		if env := lcArray(t, lcInspect(t, e, "shell-proj")[0], "env"); len(env) != 0 {
			t.Errorf("a refused change altered the sandbox: env %v", env)
		}

		r = e.run(ws, "run", "--recreate", "-e", "FOO=1", "shell", "-c", "echo $FOO; cat ~/marker")
		lcWant(t, "run --recreate -e FOO=1", r, 0, "1\nkept\n")
		entries := lcLs(t, e, "-a")
		if len(entries) != 1 || entries[0].Name != "shell-proj" {
			t.Errorf("--recreate should leave one sandbox shell-proj, got %+v (was %s)", entries, id)
		}
		// The new settings stick: a plain run reuses the sandbox as re-created.
		lcWant(t, "run after --recreate", e.run(ws, "run", "shell", "-c", "echo $FOO"), 0, "1\n")
	})
}

// lcHog allocates 300 MiB inside the sandbox.
const lcHog = `if command -v python3 >/dev/null; then python3 -c "b=bytearray(300*1024*1024)"; else head -c 300m /dev/zero | tail >/dev/null; fi`

// TestLifecycleLimitsRoot: --memory, --cpus and the default pids limit are enforced when paddock
// runs as root. Root only: the host's cgroups are writable only by root here (cgroup v1 cannot
// be delegated); the rootless behaviour is TestLifecycleLimitsRootless.
func TestLifecycleLimitsRoot(t *testing.T) {
	e := newEnv(t, asRoot)

	wsMem := e.workspace("mem")
	e.ok(wsMem, "run", "--memory", "64m", "shell", "-c", "true")
	v := lcInspect(t, e, "shell-mem")[0]
	if !lcBool(t, v, "limits.enforced.memory") {
		t.Errorf("--memory 64m: inspect says memory is not enforced: %s", lcJSON(v["limits"]))
	}
	if n := lcNumber(t, v, "limits.requested.memory_bytes"); n != 64<<20 {
		t.Errorf("--memory 64m: requested memory_bytes %v", n)
	}
	initPid := int(lcNumber(t, v, "state.init_pid"))
	if got := lcCgroupFile(t, initPid, "memory", "memory.limit_in_bytes", "memory.max"); got != strconv.Itoa(64<<20) {
		t.Errorf("--memory 64m: the host cgroup's memory limit is %s", got)
	}
	r := e.run(wsMem, "run", "shell", "-c", lcHog)
	if r.code != 137 {
		t.Errorf("allocating 300 MiB under --memory 64m: want the process killed (exit 137), got %s", r)
	}
	lcWant(t, "the sandbox survives an OOM kill", e.run(wsMem, "run", "shell", "-c", "echo alive"), 0, "alive\n")

	wsCPU := e.workspace("cpu")
	r = e.run(wsCPU, "run", "--cpus", "0.5", "shell", "-c", `TIMEFORMAT=%U; { time timeout 1 sh -c 'while :; do :; done'; } 2>&1; true`)
	if r.code != 0 {
		t.Fatalf("--cpus 0.5: %s", r)
	}
	if used, err := strconv.ParseFloat(strings.TrimSpace(r.stdout), 64); err != nil || used > 0.8 {
		t.Errorf("--cpus 0.5: a busy loop used %q CPU seconds in one second, want about 0.5", r.stdout)
	}
	v = lcInspect(t, e, "shell-cpu")[0]
	if !lcBool(t, v, "limits.enforced.cpu") || lcNumber(t, v, "limits.requested.cpus") != 0.5 {
		t.Errorf("--cpus 0.5: inspect: %s", lcJSON(v["limits"]))
	}
	initPid = int(lcNumber(t, v, "state.init_pid"))
	if got := lcCgroupFile(t, initPid, "cpu", "cpu.cfs_quota_us", "cpu.max"); got != "50000" && got != "50000 100000" {
		t.Errorf("--cpus 0.5: the host cgroup's CPU quota is %q", got)
	}

	// The default pids limit, on the sandbox that asked for none.
	if !lcBool(t, v, "limits.enforced.pids") || lcNumber(t, v, "limits.enforced.pids_max") != 4096 {
		t.Errorf("default pids limit: inspect: %s", lcJSON(v["limits"]))
	}
	if got := lcCgroupFile(t, initPid, "pids", "pids.max", "pids.max"); got != "4096" {
		t.Errorf("default pids limit: the host cgroup's pids.max is %s", got)
	}
}

// TestLifecycleLimitsRootless: an ordinary user gets a clear refusal for limits the host cannot
// enforce for them, and a one-line warning when only the default process limit is lost.
func TestLifecycleLimitsRootless(t *testing.T) {
	e := newEnv(t, asRootless)
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	unifiedOnly := err == nil

	ws := e.workspace("mem")
	r := e.run(ws, "run", "--memory", "64m", "shell", "-c", "true")
	switch {
	case r.code == 0 && unifiedOnly:
		// A delegated cgroup v2 subtree: then the limit must really be enforced.
		if v := lcInspect(t, e, "shell-mem")[0]; !lcBool(t, v, "limits.enforced.memory") {
			t.Errorf("rootless --memory ran without enforcing it: %s", lcJSON(v["limits"]))
		}
		e.ok("", "rm", "-f", "shell-mem")
	case r.code == 0:
		t.Errorf("rootless --memory on a cgroup v1 host should be refused, got %s", r)
	default:
		lcOneLineError(t, "rootless --memory 64m", r, "memory", "enforce")
		if dirs := e.sandboxDirs(); len(dirs) != 0 {
			t.Errorf("a refused run left sandbox folders behind: %v", dirs)
		}
	}

	if rootlessLimits() {
		return // this host limits rootless sandboxes: nothing is refused or unsafe
	}
	// Without memory and CPU limits a sandbox is refused, unless the user says loudly to go on.
	safe := *e
	safe.extra = nil
	ws2 := e.workspace("plain")
	r = safe.run(ws2, "run", "shell", "-c", "echo ok")
	lcOneLineError(t, "rootless run without enforceable limits", r, "--unsafe-no-limits")
	if dirs := e.sandboxDirs(); len(dirs) != 0 {
		t.Errorf("a refused run left sandbox folders behind: %v", dirs)
	}
	r = safe.run(ws2, "--unsafe-no-limits", "run", "shell", "-c", "echo ok")
	lcWant(t, "rootless run with --unsafe-no-limits", r, 0, "ok\n")
	var warnings []string
	for _, l := range lcLines(r.stderr) {
		if strings.Contains(l, "warning") {
			warnings = append(warnings, l)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "UNSAFE") || !strings.Contains(warnings[0], "memory") {
		t.Errorf("want one loud warning that memory and CPU are not limited, got %q", r.stderr)
	}
	// The process limit still holds, through RLIMIT_NPROC.
	v := lcInspect(t, e, "shell-plain")[0]
	if !lcBool(t, v, "state.limits_enforced.pids") {
		t.Errorf("the process limit should fall back to RLIMIT_NPROC: %s", lcJSON(v["state"]))
	}
	if got := strings.TrimSpace(e.ok(ws2, "exec", "shell-plain", "bash", "-c", "ulimit -u")); got != "4096" {
		t.Errorf("ulimit -u inside = %q, want 4096", got)
	}
}

// subUIDRange is the user's subordinate uid range, when newuidmap can map it.
func subUIDRange(name string) (start, count int, ok bool) {
	if _, err := exec.LookPath("newuidmap"); err != nil {
		return 0, 0, false
	}
	b, _ := os.ReadFile("/etc/subuid")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 3 && f[0] == name {
			start, _ = strconv.Atoi(f[1])
			count, _ = strconv.Atoi(f[2])
			return start, count, count > 0
		}
	}
	return 0, 0, false
}
