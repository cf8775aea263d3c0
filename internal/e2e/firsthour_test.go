package e2e

// A new user's first hour (issue 17): what paddock says where a user was misled or stuck, asserted
// as the user sees it, as root and as an ordinary user.

import (
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/backend/docker/dockertest"
	"github.com/paddockhq/paddock/internal/image/imagetest"
)

// oneLineErr fails unless r exited with code and printed exactly one line on stderr that
// contains every one of want.
func oneLineErr(t *testing.T, what string, r result, code int, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != code || len(lines) != 1 {
		t.Fatalf("%s: want exit %d and one line on stderr: %s", what, code, r)
	}
	for _, w := range want {
		if !strings.Contains(lines[0], w) {
			t.Fatalf("%s: %q lacks %q", what, lines[0], w)
		}
	}
}

// TestFirstHourDiscoverability: --version, completion in --help and completing names and flag
// values, a man page, an agent in run's examples, and unknown commands as usage errors with one
// clean suggestion line.
func TestFirstHourDiscoverability(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		if out := e.ok("", "--version"); !regexp.MustCompile(`^paddock \S+\n$`).MatchString(out) {
			t.Fatalf("--version: %q", out)
		}
		r := e.run("", "rn")
		oneLineErr(t, "an unknown command", r, 2, `paddock: unknown command "rn"; did you mean `, "run", "(see `paddock --help`)")
		if strings.Contains(r.stderr, "; ;") || strings.Contains(r.stderr, "\t") {
			t.Fatalf("garbled suggestion: %q", r.stderr)
		}
		oneLineErr(t, "an unknown command without a near one", e.run("", "frobnicate"), 2, `paddock: unknown command "frobnicate" (see`)
		if out := e.ok("", "--help"); !regexp.MustCompile(`(?m)^  completion\s`).MatchString(out) {
			t.Fatalf("completion is not in --help:\n%s", out)
		}
		if out := e.ok("", "run", "--help"); !strings.Contains(out, "paddock run claude") {
			t.Fatalf("run --help has no example with an agent:\n%s", out)
		}
		ws := e.workspace("compl")
		name := strings.TrimSpace(e.ok(ws, "run", "-d", "shell"))
		for _, c := range []struct {
			args []string
			want []string
		}{
			{[]string{"__complete", "exec", ""}, []string{name}},
			{[]string{"__complete", "stop", "sh"}, []string{name}},
			{[]string{"__complete", "run", "cl"}, []string{"claude"}},
			{[]string{"__complete", "run", ""}, []string{"claude", "codex", "shell", name}},
			{[]string{"__complete", "run", "--network", ""}, []string{"locked", "balanced", "open"}},
			{[]string{"__complete", "create", "--backend", ""}, []string{"native", "docker"}},
		} {
			out := e.ok("", c.args...)
			for _, w := range c.want {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(w) + `$`).MatchString(out) {
					t.Errorf("paddock %s: %q not offered:\n%s", strings.Join(c.args, " "), w, out)
				}
			}
		}
		man := e.mkdir(filepath.Join(e.dir, "man1"))
		e.ok("", "man", man)
		for _, page := range []string{"paddock.1", "paddock-run.1", "paddock-policy-allow.1"} {
			if b, err := os.ReadFile(filepath.Join(man, page)); err != nil || !strings.Contains(string(b), ".TH \"PADDOCK") {
				t.Errorf("man page %s: %v", page, err)
			}
		}
	})
}

// TestFirstHourSmallThings: reset leaves nothing, a file that is not a program is 126, a
// relative PADDOCK_HOME is refused, inspect does not contradict itself on the pids limit, doctor
// reports an unwritable PADDOCK_HOME instead of dying.
func TestFirstHourSmallThings(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	ref := reg.Push(t, "test/firsthour:1", busyboxImage(t))
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("small")
		name := strings.TrimSpace(e.ok(ws, "run", "-d", "shell"))

		r := e.run("", "exec", name, "/etc/passwd")
		oneLineErr(t, "exec of a file that is not a program", r, 126, "/etc/passwd: cannot execute in the sandbox")
		r = e.run("", "exec", name, "/no/such/program")
		oneLineErr(t, "exec of a missing program", r, 127, "no such executable")

		// inspect: the pids limit is enforced one way or another, and never said not to be.
		var v []struct {
			Limits struct {
				Enforced struct {
					Pids   bool   `json:"pids"`
					Reason string `json:"reason"`
				} `json:"enforced"`
			} `json:"limits"`
		}
		if err := json.Unmarshal([]byte(e.ok("", "inspect", name)), &v); err != nil || len(v) != 1 {
			t.Fatalf("inspect: %v", err)
		}
		if en := v[0].Limits.Enforced; en.Pids && strings.Contains(en.Reason, "pids limit is not enforced") {
			t.Errorf("inspect says the pids limit is enforced and is not: %+v", en)
		}

		// A relative PADDOCK_HOME: refused, and no folder made where the command ran.
		cmd := e.command(ws, "ls")
		cmd.Env = append(cmd.Env, "PADDOCK_HOME=relative-state")
		var errb strings.Builder
		cmd.Stderr = &errb
		err := cmd.Run()
		oneLineErr(t, "a relative PADDOCK_HOME", result{stderr: errb.String(), code: cmd.ProcessState.ExitCode()}, 1,
			"PADDOCK_HOME=relative-state is not an absolute path")
		if err == nil {
			t.Fatal("a relative PADDOCK_HOME was accepted")
		}
		if _, err := os.Lstat(filepath.Join(ws, "relative-state")); err == nil {
			t.Fatal("a relative PADDOCK_HOME made a folder in the workspace")
		}

		// doctor with a PADDOCK_HOME that cannot be made: a FAIL line with the fix, not a crash.
		blocker := filepath.Join(e.dir, "a-file")
		e.writeFile(blocker, "x")
		cmd = e.command("", "doctor")
		cmd.Env = append(cmd.Env, "PADDOCK_HOME="+blocker+"/state")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(out.String(), "[FAIL] state folder (PADDOCK_HOME)") ||
			!strings.Contains(out.String(), "fix: make "+blocker+"/state writable for you") {
			t.Fatalf("doctor with an unusable PADDOCK_HOME: exit %d\n%s", code, out.String())
		}

		// reset: every folder paddock made goes, the template cache and doctor's too.
		e.ok("", "template", "pull", ref)
		e.run("", "doctor")
		e.ok("", "reset", "--force")
		if entries, err := os.ReadDir(e.phome); err == nil {
			var left []string
			for _, en := range entries {
				left = append(left, en.Name())
			}
			t.Fatalf("reset left %v in PADDOCK_HOME", left)
		}
	})
}

// TestFirstHourHostPath: a tool the user has on PATH outside the home (Go in /usr/local/go/bin, a
// tool under /opt) is on the sandbox's PATH too, for commands and login shells; folders of the
// user's home are not (the sandbox has a home of its own).
func TestFirstHourHostPath(t *testing.T) {
	requireRoot(t)
	tool, err := os.MkdirTemp("/opt", "paddock-e2e-tool-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tool) })
	os.Chmod(tool, 0o755)
	bin := filepath.Join(tool, "bin")
	os.Mkdir(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "hello-tool"), []byte("#!/bin/sh\necho \"hello from the host's tool\"\n"), 0o755)
	forEachMode(t, func(t *testing.T, e *env) {
		homeBin := e.mkdir(filepath.Join(e.home, "bin"))
		e.extra = append(e.extra, "PATH="+bin+":"+homeBin+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
		ws := e.workspace("pathproj")
		if out := e.ok(ws, "run", "shell", "-c", "hello-tool"); out != "hello from the host's tool\n" {
			t.Fatalf("login shell: %q", out)
		}
		out := e.ok(ws, "exec", "shell-pathproj", "sh", "-c", "hello-tool; echo $PATH")
		if !strings.HasPrefix(out, "hello from the host's tool\n") {
			t.Fatalf("exec: %q", out)
		}
		if strings.Contains(out, homeBin) {
			t.Fatalf("a folder of the user's home is on the sandbox's PATH: %q", out)
		}
	})
}

// TestFirstHourDamagedRecord: a sandbox whose record.json is damaged is not hidden: run in its
// folder refuses (one line, the command that fixes it) instead of making a second sandbox, and
// rm -f stops its processes before removing its state.
func TestFirstHourDamagedRecord(t *testing.T) {
	for _, c := range []struct {
		name    string
		mode    mode
		backend string
	}{{"native/root", asRoot, "native"}, {"native/rootless", asRootless, "native"}, {"docker/root", asRoot, "docker"}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.mode)
			procReap(t, e)
			if c.backend == "docker" {
				dockerFor(t, e)
			}
			ws := e.workspace("damaged")
			name := strings.TrimSpace(e.ok(ws, "run", "-d", "shell"))
			dirs := e.sandboxDirs()
			if len(dirs) != 1 {
				t.Fatalf("sandboxes: %v", dirs)
			}
			id := dirs[0]
			dir := filepath.Join(e.phome, "sandboxes", id)
			if err := os.WriteFile(filepath.Join(dir, "record.json"), []byte("{garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
			r := e.run(ws, "run", "shell", "-c", "true")
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			last := lines[len(lines)-1]
			if r.code == 0 || !strings.Contains(last, "the sandbox of this folder, "+name+" ("+id+"), has an unreadable record") ||
				!strings.Contains(last, "paddock rm -f "+id) {
				t.Fatalf("run in the damaged sandbox's folder: %s", r)
			}
			if got := e.sandboxDirs(); len(got) != 1 {
				t.Fatalf("a second sandbox was made for the folder: %v", got)
			}
			running := func() bool {
				if c.backend == "native" {
					return len(procSupervisors(dir)) > 0
				}
				out, _ := exec.Command("docker", "ps", "-q", "--filter", "label=dev.paddock.dir="+dir).Output()
				return strings.TrimSpace(string(out)) != ""
			}
			if !running() {
				t.Fatal("the damaged sandbox is not running before rm (test setup)")
			}
			e.ok("", "rm", "-f", id)
			if running() {
				t.Fatal("rm -f of a damaged sandbox left its processes running")
			}
			if _, err := os.Lstat(dir); err == nil {
				t.Fatal("rm -f left the state folder")
			}
			e.ok(ws, "run", "shell", "-c", "true")
		})
	}
}

// TestFirstHourDockerMessages: a socket the user may not use says so (and names the docker
// group), an unreachable registry is not "image not found", and the default image's message
// names the settings that change it.
func TestFirstHourDockerMessages(t *testing.T) {
	dockertest.Require(t)
	e := newEnv(t, asRootless) // not in the docker group
	ws := e.workspace("dockmsg")
	r := e.run(ws, "--backend", "docker", "run", "shell", "-c", "true")
	oneLineErr(t, "no access to the socket", r, 125, "permission denied on the Docker engine's socket", "docker group")

	g, err := user.LookupGroup("docker")
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	e.groups = []uint32{uint32(gid)}
	e.extra = append(e.extra, "PADDOCK_DOCKER_IMAGE=127.0.0.1:1/paddock-test/absent:1")
	r = e.run(ws, "--backend", "docker", "run", "shell", "-c", "true")
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if r.code == 0 || !strings.Contains(last, "registry unreachable") || strings.Contains(last, "image not found") ||
		!strings.Contains(last, "PADDOCK_DOCKER_IMAGE") || !strings.Contains(last, "docker_image") {
		t.Fatalf("an unreachable registry for the default image: %s", r)
	}
}

// TestFirstHourBackendNote: the note that a folder's sandbox stays on the backend it was made on
// is said once, though paddock hands the command to paddock-oci after saying it.
func TestFirstHourBackendNote(t *testing.T) {
	e := newEnv(t, asRoot)
	procReap(t, e)
	dockerFor(t, e)
	ws := e.workspace("note")
	e.ok(ws, "run", "-d", "shell")
	r := e.run(ws, "--backend", "native", "run", "shell", "-c", "true")
	if r.code != 0 || strings.Count(r.stderr, "runs on the docker backend") != 1 {
		t.Fatalf("want the backend note once: %s", r)
	}
}

// TestFirstHourAllowHint: a name the policy allows that resolves to a private address (a company
// mirror, split-horizon DNS) is refused for its address, and the hint names the rule that allows
// it: that one address, not the name again (which changed nothing) nor the whole range.
func TestFirstHourAllowHint(t *testing.T) {
	requireRoot(t)
	const name = "paddock-e2e-mirror.test"
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/hosts", append(append([]byte{}, hosts...), []byte("\n10.255.0.7 "+name+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile("/etc/hosts", hosts, 0o644) })
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("mirror")
		sb := strings.TrimSpace(e.ok(ws, "run", "-d", "shell"))
		e.ok("", "policy", "allow", name, "--sandbox", sb)
		r := e.run("", "policy", "check", sb, "https://"+name+"/pkg")
		want := "paddock: to allow it: paddock policy allow 10.255.0.7:443 --sandbox " + sb + "\n"
		if r.code != 1 || !strings.Contains(r.stdout, "10.255.0.7 is private") || r.stderr != want {
			t.Fatalf("policy check of an allowed name with a private address: want the address's rule as the hint %q: %s", want, r)
		}
		var v struct {
			AllowCommand string `json:"allow_command"`
		}
		json.Unmarshal([]byte(e.run("", "policy", "check", "--json", sb, "https://"+name+"/pkg").stdout), &v)
		if v.AllowCommand != strings.TrimSuffix(strings.TrimPrefix(want, "paddock: to allow it: "), "\n") {
			t.Fatalf("policy check --json: allow_command %q", v.AllowCommand)
		}
		// The hint, run, is what allows it; the range stays closed to other addresses.
		e.ok("", "policy", "allow", "10.255.0.7:443", "--sandbox", sb)
		if r := e.run("", "policy", "check", sb, "https://"+name+"/pkg"); r.code != 0 || !strings.HasPrefix(r.stdout, "allow ") {
			t.Fatalf("after the hint: %s", r)
		}
		if r := e.run("", "policy", "check", sb, "https://10.255.0.8/"); r.code != 1 {
			t.Fatalf("the hint opened more than the one address: %s", r)
		}
	})
}

// TestFirstHourMove: a project folder renamed after its sandbox was made. The sandbox says what
// happened and how to follow the folder; a run in the folder's new place does not make an empty
// second sandbox; `paddock move` points the sandbox there with its state.
func TestFirstHourMove(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		old := e.workspace("before")
		name := strings.TrimSpace(e.ok(old, "run", "-d", "shell"))
		e.ok("", "exec", name, "sh", "-c", "echo installed-state > ~/kept")
		e.writeFile(filepath.Join(old, "code.txt"), "mine\n")
		e.ok("", "stop", name)
		moved := filepath.Join(e.dir, "after")
		if err := os.Rename(old, moved); err != nil {
			t.Fatal(err)
		}
		r := e.run("", "exec", name, "true")
		oneLineErr(t, "exec in a sandbox whose folder moved", r, 2, old+" of sandbox "+name+" no longer exists", "paddock move "+name+" NEW_FOLDER")
		r = e.run(moved, "run", "shell", "-c", "true")
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		if r.code == 0 || !strings.Contains(lines[len(lines)-1], "this folder is "+name+"'s workspace, moved from "+old) ||
			!strings.Contains(lines[len(lines)-1], "paddock move "+name+" "+moved) {
			t.Fatalf("run in the moved folder: %s", r)
		}
		if got := e.sandboxDirs(); len(got) != 1 {
			t.Fatalf("a second sandbox was made: %v", got)
		}
		if out := e.ok(moved, "move", name); out != name+"\n" {
			t.Fatalf("move: %q", out)
		}
		if out := e.ok(moved, "run", "shell", "-c", "cat ~/kept code.txt; pwd"); out != "installed-state\nmine\n"+moved+"\n" {
			t.Fatalf("after move: %q", out)
		}
		// A second sandbox of the agent in a folder that has one: refused, nothing changed.
		other := e.workspace("other")
		e.ok(other, "run", "-d", "shell")
		e.ok("", "stop", name, "shell-other")
		oneLineErr(t, "move onto a folder with a sandbox", e.run(other, "move", name), 1, "already has a shell sandbox")
		if out := e.ok(moved, "run", "shell", "-c", "pwd"); out != moved+"\n" {
			t.Fatalf("a refused move changed the sandbox: %q", out)
		}
	})
}

// TestFirstHourNoKey: an agent with neither a stored key nor a sign-in of its own says, before it
// starts, how to give it one; and a call to its API that the proxy refuses is answered at once
// inside the tunnel, in the API's own error format, with paddock's reason and the command that
// allows it (not a refused tunnel a client takes for a network fault).
func TestFirstHourNoKey(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		agSetup(t, e, "")
		agEnsureInstalled(t, "claude")
		ws := e.workspace("nokey")
		r := e.run(ws, "run", "claude", "--", "--version")
		if r.code != 0 || strings.Contains(r.stderr, "no key") {
			t.Fatalf("--version needs no key, and no hint: %s", r)
		}
		e.ok("", "policy", "deny", "api.anthropic.com", "--sandbox", "claude-nokey")
		r, _ = procRun(e, ws, "", 10*time.Second, "run", "claude", "-p", "say hi")
		hint := "paddock: claude has no key and no sign-in yet: `paddock secret set anthropic` stores a key (it never enters the sandbox), or log in inside with /login"
		if !strings.HasPrefix(r.stderr, hint) {
			t.Errorf("no hint before the agent started: %s", r)
		}
		start := time.Now()
		r = e.run(ws, "exec", "claude-nokey", "curl", "-s", "-i", "https://api.anthropic.com/v1/messages", "-d", "{}")
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("the refused API call took %v", took)
		}
		if !strings.Contains(r.stdout, "HTTP/1.1 400") || !strings.Contains(r.stdout, `"type":"permission_error"`) ||
			!strings.Contains(r.stdout, "paddock: api.anthropic.com:443 refused (denied by rule api.anthropic.com)") {
			t.Errorf("the refused API call is not answered in the API's format with paddock's reason: %s", r)
		}
		// With a key stored, no hint.
		cmd := e.command("", "secret", "set", "anthropic")
		cmd.Stdin = strings.NewReader("sk-ant-test-key\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("secret set: %v %s", err, out)
		}
		if r, _ := procRun(e, ws, "", 10*time.Second, "run", "claude", "-p", "say hi"); strings.Contains(r.stderr, "no key and no sign-in") {
			t.Errorf("a hint with a key stored: %s", r)
		}
	})
}
