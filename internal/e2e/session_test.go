package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/agenttest"
	"github.com/paddockhq/paddock/internal/backend/docker/dockertest"
)

// Background sessions (paddock run -d AGENT, attach, logs), root and rootless, in a real
// terminal (tmux): the agent runs with no terminal attached; attach shows its screen, takes
// keys (Ctrl-C goes to the agent, not to paddock), detaches with Ctrl-P Ctrl-Q while the agent
// goes on; its output meanwhile is in logs and on the screen at the next attach; when it ends,
// attach ends with its exit code, and ls and logs say so.
func TestBackgroundSession(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) { checkBackgroundSession(t, e, nil) })
}

// The same on the Docker backend, whose sessions a paddock-oci process on the host holds.
func TestBackgroundSessionDocker(t *testing.T) {
	forEachDockerMode(t, func(t *testing.T, e *env) { checkBackgroundSession(t, e, []string{"--backend", "docker"}) })
}

// attachScript runs paddock with args in a terminal as the env's user, then says how it ended.
func (e *env) terminalScript(ws string, args ...string) string {
	env := append([]string{"HOME=" + e.home, "PADDOCK_HOME=" + e.phome, "TERM=xterm-256color", "LANG=C.UTF-8"}, e.extra...)
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	argv := append([]string{binary}, args...)
	if e.mode == asRootless {
		groups := "--clear-groups"
		if len(e.groups) > 0 {
			var gs []string
			for _, g := range e.groups {
				gs = append(gs, fmt.Sprint(g))
			}
			groups = "--groups=" + strings.Join(gs, ",")
		}
		argv = append([]string{"setpriv", fmt.Sprintf("--reuid=%d", e.uid), fmt.Sprintf("--regid=%d", e.gid), groups}, argv...)
	}
	return strings.Replace(shellScript(ws, env, argv), "SESSION-ENDED", "PADDOCK-ENDED", 1)
}

func checkBackgroundSession(t *testing.T, e *env, backend []string) {
	ws := e.workspace("bg")
	script := `trap 'echo caught-interrupt' INT; echo ready-for-input
		while ! read a; do :; done; echo "answer: $a"
		sleep 2; echo "late: printed while detached"
		while ! read b; do :; done; echo "bye $b"; exit 7`
	r := e.run(ws, append(append([]string{}, backend...), "run", "-d", "shell", "-c", script)...)
	if r.code != 0 {
		t.Fatalf("run -d: %s", r)
	}
	name := strings.TrimSpace(r.stdout)
	if !strings.Contains(r.stderr, "paddock attach "+name) {
		t.Errorf("run -d does not say how to attach: %s", r.stderr)
	}
	waitLogs := func(want string) string {
		t.Helper()
		var out string
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if out = e.ok(ws, "logs", name); strings.Contains(out, want) {
				return out
			}
		}
		t.Fatalf("logs never showed %q:\n%s", want, out)
		return ""
	}
	waitLogs("ready-for-input")
	if ls := e.ok(ws, "ls"); !strings.Contains(ls, "running") || !strings.Contains(ls, name) {
		t.Errorf("ls: %s", ls)
	}
	if r := e.run(ws, append(append([]string{}, backend...), "run", "-d", "shell", "-c", "echo other")...); r.code == 0 || !strings.Contains(r.stderr, "running already") {
		t.Errorf("a second run -d with a new command while the session runs: %s", r)
	}

	tm := newTmux(t, e.terminalScript(ws, "attach", name), 100, 30)
	tm.waitFor(10*time.Second, "the session's screen", "ready-for-input")
	tm.tmux("send-keys", "-t", "main", "C-c")
	tm.waitFor(10*time.Second, "Ctrl-C reaching the agent", "caught-interrupt")
	if sc := tm.screen(); strings.Contains(sc, "PADDOCK-ENDED") {
		t.Fatalf("Ctrl-C ended paddock attach:\n%s", sc)
	}
	tm.typeLine("first")
	tm.waitFor(10*time.Second, "the answer", "answer: first")
	tm.tmux("send-keys", "-t", "main", "C-p", "C-q")
	tm.waitFor(10*time.Second, "detaching", "detached from "+name, "PADDOCK-ENDED:0")

	// Detached, the agent goes on.
	waitLogs("late: printed while detached")
	if tail := e.ok(ws, "logs", "--tail", "1", name); !strings.Contains(tail, "late: printed") || strings.Contains(tail, "answer: first") {
		t.Errorf("logs --tail 1: %q", tail)
	}

	// Attached again: its screen shows what came meanwhile; the session's end ends attach with
	// its exit code.
	tm2 := newTmux(t, e.terminalScript(ws, "attach", name), 100, 30)
	tm2.waitFor(10*time.Second, "the screen at the second attach", "late: printed while detached")
	tm2.typeLine("second")
	tm2.waitFor(10*time.Second, "the end of the session", "bye second", "ended (exit code 7)", "PADDOCK-ENDED:7")

	if out := e.ok(ws, "logs", name); !strings.Contains(out, "bye second") {
		t.Errorf("logs after the end: %q", out)
	}
	if ls := e.ok(ws, "ls"); !strings.Contains(ls, "exited(7)") {
		t.Errorf("ls after the end: %s", ls)
	}
	if r := e.run(ws, "attach", name); r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("attach without a terminal: want one line and a failure: %s", r)
	}
	// A new background session after the end.
	if r := e.run(ws, "run", "-d", name); r.code != 0 {
		t.Errorf("run -d after the end: %s", r)
	}
}

// TestBackgroundSessionClaudeTUI: the real Claude Code in a background session against the
// stand-in: started with run -d, attached in a real terminal at its prompt, asked a question,
// detached before the answer comes; the answer arrives while no terminal is attached (logs show
// it), and the next attach, in a terminal of another size, shows it on Claude Code's screen.
func TestBackgroundSessionClaudeTUI(t *testing.T) {
	e := newEnv(t, asRoot)
	agSetup(t, e, "")
	agEnsureInstalled(t, "claude")
	checkClaudeTUI(t, e, nil)
}

// The same on the Docker backend: Claude Code installed by the Docker install sandbox, run in a
// container of an image with node and its libraries, its session held by the host process.
func TestBackgroundSessionClaudeTUIDocker(t *testing.T) {
	node, npmImage := dockerNPMImage(t)
	e := newEnv(t, asRoot)
	e.extra = append(e.extra, "PADDOCK_DOCKER_IMAGE="+npmImage)
	if r := e.run("", "--backend", "docker", "agents", "update", "claude"); r.code != 0 {
		t.Fatalf("install on docker: %s", r)
	}
	versions := agVersions(filepath.Join(e.phome, "agents", "claude"))
	if len(versions) != 1 {
		t.Fatalf("installed %q", versions)
	}
	ref := dockertest.ImageWithLibs(t, []string{node}, elfFiles(filepath.Join(e.phome, "agents", "claude", versions[0])))
	checkClaudeTUI(t, e, []string{"--backend", "docker", "-t", ref})
}

// checkClaudeTUI runs the scenario; runArgs go before run's other arguments.
func checkClaudeTUI(t *testing.T, e *env, runArgs []string) {
	reply := "PADDOCK-DETACHED-REPLY-4242"
	s := standIn(t, agenttest.Anthropic, reply)
	s.Delay = 5 * time.Second
	if r := e.runInput("", "sk-session-key", "secret", "set", "anthropic", "--endpoint", s.URL); r.code != 0 {
		t.Fatalf("secret set: %s", r)
	}
	ws := e.workspace("bgclaude")
	args := []string{"run", "-d", "claude"}
	if len(runArgs) > 0 {
		args = append(append([]string{runArgs[0], runArgs[1], "run", "-d"}, runArgs[2:]...), "claude")
	}
	r := e.run(ws, args...)
	if r.code != 0 {
		t.Fatalf("run -d claude: %s", r)
	}
	name := strings.TrimSpace(r.stdout)
	tm := newTmux(t, e.terminalScript(ws, "attach", name), 110, 34)
	tm.waitFor(60*time.Second, "Claude Code's prompt", "bypass permissions on")
	tm.typeLine("say the word")
	time.Sleep(time.Second) // sent, not yet answered (the stand-in holds its reply)
	tm.tmux("send-keys", "-t", "main", "C-p", "C-q")
	sc := tm.waitFor(10*time.Second, "detaching", "detached from "+name, "PADDOCK-ENDED:0")
	if strings.Contains(sc, reply) {
		t.Fatalf("the reply came before the detach; the test proves nothing:\n%s", sc)
	}
	var out string
	for end := time.Now().Add(60 * time.Second); !strings.Contains(out, reply); time.Sleep(300 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the reply never arrived in the detached session's logs:\n%s\nstand-in saw:\n%s", out, s.Summary())
		}
		out = e.ok(ws, "logs", name)
	}
	start := time.Now()
	tm2 := newTmux(t, e.terminalScript(ws, "attach", name), 120, 36)
	tm2.waitFor(20*time.Second, "the reply on the screen at the next attach", reply, "bypass permissions on")
	t.Logf("the second attach showed Claude Code's screen within %s (tmux polling included)", time.Since(start).Round(time.Millisecond))
	// Claude Code takes the new terminal's width (its rules span it).
	tm2.waitFor(15*time.Second, "redraw at 120 columns", strings.Repeat("─", 120))
	tm2.tmux("send-keys", "-t", "main", "C-c")
	time.Sleep(400 * time.Millisecond)
	tm2.tmux("send-keys", "-t", "main", "C-c")
	tm2.waitFor(20*time.Second, "Claude Code's exit ending attach", "ended (exit code", "PADDOCK-ENDED:")
}
