package e2e

// Real agent sessions inside sandboxes (issue 8): paddock runs the real CLI in a sandbox whose
// only way out is the egress proxy; the stand-in of the agent's API, on the host's loopback,
// receives the real stored key, while inside the sandbox only the placeholder exists.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/agenttest"
)

// scanSandbox looks for key everywhere inside a running sandbox a process can: the environment of
// every process, and the files under home, /tmp and the workspace. It returns where key was
// found and how many places hold the placeholder.
func scanSandbox(t *testing.T, e *env, name, ws, key, placeholder string) (found []string, placeholders int) {
	t.Helper()
	script := `k=$1; ph=$2; ws=$3
for p in /proc/[0-9]*; do
	[ "$p" = /proc/$$ ] && continue
	if tr '\0' '\n' < $p/environ 2>/dev/null | grep -qF -- "$k"; then echo "FOUND env of $(tr '\0' ' ' < $p/cmdline | cut -c1-80)"; fi
	if tr '\0' '\n' < $p/environ 2>/dev/null | grep -qF -- "$ph"; then echo PH; fi
	if tr '\0' '\n' < $p/cmdline 2>/dev/null | grep -qF -- "$k"; then echo "FOUND cmdline of $p"; fi
done
grep -rlF -- "$k" /root /tmp "$ws" 2>/dev/null | sed 's/^/FOUND file /'
grep -rlF -- "$ph" /root /tmp "$ws" 2>/dev/null | sed 's/^/PH file /'
echo SCANNED`
	// The scanning shell's own argv carries the key: its own process is skipped above.
	r := e.run("", "exec", name, "sh", "-c", script, "scan", key, placeholder, ws)
	if r.code != 0 || !strings.Contains(r.stdout, "SCANNED") {
		t.Fatalf("scan: %s", r)
	}
	for _, l := range strings.Split(r.stdout, "\n") {
		switch {
		case strings.HasPrefix(l, "FOUND"):
			found = append(found, l)
		case strings.HasPrefix(l, "PH"):
			placeholders++
		}
	}
	return found, placeholders
}

// TestAgentsLiveSandbox: `paddock run claude -p`, `codex exec` and `gemini -p` print the
// stand-in's reply from inside a sandbox; the key is set with `secret set NAME --endpoint URL`
// (a plain-HTTP loopback endpoint), the stand-in receives the real key, and while the agent waits
// for its answer, no process environment or file inside holds it — only the placeholder.
func TestAgentsLiveSandbox(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		agSetup(t, e, "")
		for _, lc := range liveCases {
			t.Run(lc.agent, func(t *testing.T) {
				agEnsureInstalled(t, lc.agent)
				key := fmt.Sprintf("sk-real-%s-%s-%d", lc.agent, e.mode, time.Now().UnixNano())
				reply := "PADDOCK-" + strings.ToUpper(lc.agent) + "-SANDBOX-4242"
				s := standIn(t, lc.api, reply)
				if r := e.runInput("", key, "secret", "set", lc.secret, "--endpoint", s.URL); r.code != 0 {
					t.Fatalf("secret set: %s", r)
				}
				ws := e.workspace("live-" + lc.agent)
				name := lc.agent + "-live-" + lc.agent
				// Hold the reply while the sandbox is scanned.
				s.Delay = 4 * time.Second
				cmd := e.command(ws, append([]string{"run", lc.agent}, lc.prompt...)...)
				var out, errb strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &errb
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				deadline := time.Now().Add(90 * time.Second)
				for len(s.ModelRequests()) == 0 {
					select {
					case err := <-done:
						t.Fatalf("paddock run %s ended (%v) before asking the stand-in:\nstdout: %s\nstderr: %s\nstand-in saw:\n%s",
							lc.agent, err, out.String(), errb.String(), s.Summary())
					case <-time.After(100 * time.Millisecond):
					}
					if time.Now().After(deadline) {
						cmd.Process.Kill()
						t.Fatalf("the stand-in heard nothing:\nstderr: %s", errb.String())
					}
				}
				found, ph := scanSandbox(t, e, name, ws, key, "paddock-placeholder-"+lc.secret)
				if len(found) > 0 {
					t.Errorf("the real key is inside the sandbox:\n%s", strings.Join(found, "\n"))
				}
				if ph == 0 {
					t.Errorf("no placeholder inside the sandbox: how did %s get its key?", lc.agent)
				}
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("paddock run %s: %v\nstdout: %s\nstderr: %s\nstand-in saw:\n%s", lc.agent, err, out.String(), errb.String(), s.Summary())
					}
				case <-time.After(90 * time.Second):
					cmd.Process.Kill()
					t.Fatalf("paddock run %s did not finish:\nstderr: %s", lc.agent, errb.String())
				}
				if !strings.Contains(out.String(), reply) {
					t.Fatalf("stdout lacks the reply %q:\n%s\nstderr: %s", reply, out.String(), errb.String())
				}
				// The agent's own loopback traffic (Codex's helper processes) stays inside.
				if strings.Contains(errb.String(), "blocked 127.0.0.1") {
					t.Fatalf("loopback traffic inside the sandbox went to the proxy:\n%s", errb.String())
				}
				if keys := s.Keys(); !slices.Equal(keys, []string{key}) {
					t.Fatalf("the stand-in got keys %q, want the real key only:\n%s", keys, s.Summary())
				}
				// The second run reuses the running sandbox; exit codes pass through.
				s.Delay = 0
				if r := e.run(ws, append([]string{"run", lc.agent}, lc.prompt...)...); r.code != 0 || !strings.Contains(r.stdout, reply) {
					t.Fatalf("second run: %s", r)
				}
				e.ok("", "rm", "-f", name)
			})
		}
		e.run("", "secret", "rm", "anthropic", "openai", "google")
	})
}

// TestAgentsLiveSandboxClaudeTUI: `paddock run claude` in a real terminal (tmux): Claude Code's
// own screen opens straight at its prompt in bypass mode, answers from the stand-in, redraws
// after a resize, and Ctrl-C leaves it and paddock.
func TestAgentsLiveSandboxClaudeTUI(t *testing.T) {
	e := newEnv(t, asRoot)
	agSetup(t, e, "")
	agEnsureInstalled(t, "claude")
	key := fmt.Sprintf("sk-real-tui-%d", time.Now().UnixNano())
	reply := "PADDOCK-SANDBOX-TUI-9001"
	s := standIn(t, agenttest.Anthropic, reply)
	if r := e.runInput("", key, "secret", "set", "anthropic", "--endpoint", s.URL); r.code != 0 {
		t.Fatalf("secret set: %s", r)
	}
	ws := e.workspace("tui")
	env := append([]string{"HOME=" + e.home, "PADDOCK_HOME=" + e.phome, "TERM=xterm-256color"}, e.extra...)
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	tm := newTmux(t, shellScript(ws, env, []string{binary, "run", "claude"}), 110, 34)
	driveClaudeTUI(t, tm, reply)
	if sc := tm.screen(); !strings.Contains(sc, "SESSION-ENDED:0") && !strings.Contains(sc, "SESSION-ENDED:130") {
		t.Fatalf("paddock run claude ended badly:\n%s", sc)
	}
	if keys := s.Keys(); !slices.Equal(keys, []string{key}) {
		t.Fatalf("the stand-in got keys %q:\n%s", keys, s.Summary())
	}
}

// TestAgentsLiveDefaultEndpoint: without --endpoint, each agent talks to its service's own host
// (api.anthropic.com, api.openai.com, generativelanguage.googleapis.com); the proxy's test hosts
// map sends the name to an HTTPS stand-in with a test CA, so the request goes through the proxy's
// TLS interception (Codex's WebSocket too), where the key is put in. With the locked policy the
// same run is refused, and the user's terminal says which command allows it.
func TestAgentsLiveDefaultEndpoint(t *testing.T) {
	e := newEnv(t, asRoot)
	agSetup(t, e, "")
	ca, err := agenttest.NewTestCA()
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]string{"claude": "api.anthropic.com", "codex": "api.openai.com", "gemini": "generativelanguage.googleapis.com"}
	caFile, hostsFile := filepath.Join(e.dir, "test-ca.pem"), filepath.Join(e.dir, "egress-hosts")
	os.WriteFile(caFile, ca.CAPEM, 0o644)
	e.extra = append(e.extra, "PADDOCK_EGRESS_HOSTS="+hostsFile, "PADDOCK_EGRESS_CA_FILE="+caFile)
	var hostLines string
	servers := map[string]*agenttest.Server{}
	for _, lc := range liveCases {
		leaf, _ := ca.Leaf(hosts[lc.agent])
		s, err := agenttest.Start(lc.api, "PADDOCK-DEFAULT-"+strings.ToUpper(lc.agent), "", leaf)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		servers[lc.agent] = s
		hostLines += hosts[lc.agent] + ":443 " + s.Addr() + "\n"
	}
	os.WriteFile(hostsFile, []byte(hostLines), 0o644)
	for _, lc := range liveCases {
		t.Run(lc.agent, func(t *testing.T) {
			agEnsureInstalled(t, lc.agent)
			s := servers[lc.agent]
			key := fmt.Sprintf("sk-real-default-%s-%d", lc.agent, time.Now().UnixNano())
			if r := e.runInput("", key, "secret", "set", lc.secret); r.code != 0 {
				t.Fatalf("secret set: %s", r)
			}
			ws := e.workspace("default-" + lc.agent)
			start := time.Now()
			r := e.run(ws, append([]string{"run", lc.agent}, lc.prompt...)...)
			t.Logf("%s answered in %s:\n%s", lc.agent, time.Since(start).Round(time.Millisecond), s.Summary())
			if r.code != 0 || !strings.Contains(r.stdout, s.Reply) {
				t.Fatalf("paddock run %s: %s\nstand-in saw:\n%s", lc.agent, r, s.Summary())
			}
			if keys := s.Keys(); !slices.Equal(keys, []string{key}) {
				t.Fatalf("the stand-in got keys %q:\n%s", keys, s.Summary())
			}
		})
	}

	// Locked: nothing leaves, and while Claude Code keeps retrying, the user's terminal names
	// the command that would allow it.
	s := servers["claude"]
	reply := s.Reply
	ws2 := e.workspace("locked")
	before := len(s.Requests())
	cmd := e.command(ws2, "run", "--network", "locked", "claude", "-p", "say the word")
	errFile := filepath.Join(e.dir, "locked.stderr")
	ef, _ := os.Create(errFile)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, ef
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait(); ef.Close() }()
	want := "paddock policy allow api.anthropic.com --sandbox claude-locked"
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		b, _ := os.ReadFile(errFile)
		if strings.Contains(string(b), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q on the terminal for the denied API:\n%s", want, b)
		}
	}
	if strings.Contains(out.String(), reply) || len(s.Requests()) != before {
		t.Fatalf("a locked sandbox reached the API: %q\n%s", out.String(), s.Summary())
	}
}

// TestAgentsLiveSandboxHostConfig: with --agent-config host, the user's own settings.json hides
// the seeded one; Claude Code still gets its key helper (through --settings) and answers.
func TestAgentsLiveSandboxHostConfig(t *testing.T) {
	e := newEnv(t, asRoot)
	agSetup(t, e, "")
	agEnsureInstalled(t, "claude")
	e.mkdir(filepath.Join(e.home, ".claude"))
	e.writeFile(filepath.Join(e.home, ".claude", "settings.json"), `{"env": {"MY_SETTING": "kept"}}`)
	key := fmt.Sprintf("sk-real-hostcfg-%d", time.Now().UnixNano())
	reply := "PADDOCK-HOSTCONFIG-REPLY"
	s := standIn(t, agenttest.Anthropic, reply)
	if r := e.runInput("", key, "secret", "set", "anthropic", "--endpoint", s.URL); r.code != 0 {
		t.Fatalf("secret set: %s", r)
	}
	ws := e.workspace("hostcfg")
	r := e.run(ws, "run", "--agent-config", "host", "claude", "-p", "say the word")
	if r.code != 0 || !strings.Contains(r.stdout, reply) {
		t.Fatalf("paddock run --agent-config host claude -p: %s\nstand-in saw:\n%s", r, s.Summary())
	}
	if keys := s.Keys(); !slices.Equal(keys, []string{key}) {
		t.Fatalf("the stand-in got keys %q:\n%s", keys, s.Summary())
	}
	if out := e.ok("", "exec", "claude-hostcfg", "cat", "/root/.claude/settings.json"); !strings.Contains(out, "MY_SETTING") {
		t.Fatalf("the user's settings are not the ones shown: %s", out)
	}
}

// TestSecretEndpointInput: a bad --endpoint is refused with one line and stores nothing; a good
// one is shown by secret ls, kept when the key is set again, and dropped with "default".
func TestSecretEndpointInput(t *testing.T) {
	e := newEnv(t, asRoot)
	for _, bad := range []string{"http://gateway.example.com", "ftp://x", "gateway.example.com", "https://u:p@gw.example.com"} {
		r := e.runInput("", "sk-x", "secret", "set", "anthropic", "--endpoint", bad)
		if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "--endpoint") {
			t.Fatalf("--endpoint %s: %s", bad, r)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(e.phome, "secrets")); len(entries) != 0 {
		t.Fatalf("a refused secret set left %v", entries)
	}
	e.runInput("", "sk-x", "secret", "set", "openai", "--endpoint", "https://GW.example.com/openai/v1/")
	if out := e.ok("", "secret", "ls", "--json"); !strings.Contains(out, `"endpoint": "https://gw.example.com/openai/v1"`) {
		t.Fatalf("secret ls --json: %s", out)
	}
	e.runInput("", "sk-y", "secret", "set", "openai")
	if out := e.ok("", "secret", "ls", "--json"); !strings.Contains(out, `"endpoint": "https://gw.example.com/openai/v1"`) {
		t.Fatalf("the endpoint was lost when the key was set again: %s", out)
	}
	e.runInput("", "sk-y", "secret", "set", "openai", "--endpoint", "default")
	if out := e.ok("", "secret", "ls", "--json"); strings.Contains(out, "endpoint") {
		t.Fatalf("--endpoint default kept it: %s", out)
	}
}

// TestAgentsLiveSandboxTUIs: `paddock run codex` and `paddock run gemini` in a real terminal open
// straight at their prompts (no trust, login or auth dialogs) and show the stand-in's answer.
func TestAgentsLiveSandboxTUIs(t *testing.T) {
	cases := []struct {
		agent, secret string
		api           agenttest.API
		ready         string
		dialogs       []string
	}{
		{"codex", "openai", agenttest.OpenAI, "YOLO mode", []string{"Trust this folder", "Sign in with ChatGPT", "Provide your own API key"}},
		{"gemini", "google", agenttest.Gemini, "Type your message", []string{"Do you trust", "How would you like to authenticate", "Select Theme"}},
	}
	e := newEnv(t, asRoot)
	agSetup(t, e, "")
	for _, c := range cases {
		t.Run(c.agent, func(t *testing.T) {
			agEnsureInstalled(t, c.agent)
			key := fmt.Sprintf("sk-real-tui-%s-%d", c.agent, time.Now().UnixNano())
			reply := "PADDOCK-" + strings.ToUpper(c.agent) + "-TUI-REPLY"
			s := standIn(t, c.api, reply)
			if r := e.runInput("", key, "secret", "set", c.secret, "--endpoint", s.URL); r.code != 0 {
				t.Fatalf("secret set: %s", r)
			}
			ws := e.workspace("tui-" + c.agent)
			env := append([]string{"HOME=" + e.home, "PADDOCK_HOME=" + e.phome, "TERM=xterm-256color"}, e.extra...)
			tm := newTmux(t, shellScript(ws, env, []string{binary, "run", c.agent}), 110, 34)
			sc := tm.waitFor(90*time.Second, c.agent+"'s prompt", c.ready)
			for _, d := range c.dialogs {
				if strings.Contains(sc, d) {
					t.Fatalf("a first-run dialog appeared (%q):\n%s", d, sc)
				}
			}
			tm.typeLine("say the word")
			// A TUI busy finishing its start-up can drop the first Enter (the line stays in its
			// input box, and the stand-in sees no request): press it once more.
			if sc, ok := tm.shows(20*time.Second, reply); !ok && strings.Contains(sc, "say the word") && len(s.Keys()) == 0 {
				t.Logf("no request after the first Enter; pressing it again")
				tm.tmux("send-keys", "-t", "main", "Enter")
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("the stand-in saw:\n%s", s.Summary())
				}
			})
			tm.waitFor(60*time.Second, "the reply", reply)
			if keys := s.Keys(); !slices.Equal(keys, []string{key}) {
				t.Fatalf("the stand-in got keys %q:\n%s", keys, s.Summary())
			}
		})
	}
}
