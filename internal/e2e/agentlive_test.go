package e2e

// Real agent sessions (issue 8): the real Claude Code, Codex and Gemini CLI talk to stand-ins
// of their APIs on loopback (internal/agenttest) and print the stand-in's reply. First on the
// host, with the configuration paddock seeds (proving the stand-ins and the seeding against the
// real CLIs), then inside sandboxes through paddock.

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/agenttest"
	"github.com/paddockhq/paddock/internal/egress"
)

// liveCases are the agents with a model API stand-in, and how each is asked one question
// without a terminal.
var liveCases = []struct {
	agent  string
	api    agenttest.API
	secret string
	prompt []string // arguments after the default flags
}{
	{"claude", agenttest.Anthropic, "anthropic", []string{"-p", "say the word"}},
	{"codex", agenttest.OpenAI, "openai", []string{"exec", "say the word"}},
	{"gemini", agenttest.Gemini, "google", []string{"-p", "say the word"}},
}

// standIn starts a stand-in for api answering reply, stopped with the test.
func standIn(t *testing.T, api agenttest.API, reply string) *agenttest.Server {
	t.Helper()
	s, err := agenttest.Start(api, reply, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// hostAgent is an installed agent prepared to run directly on the host, as paddock would run
// it in a sandbox: its config folders under a home of its own, seeded by paddock's own code.
type hostAgent struct {
	a    agent.Agent
	home string
	ws   string
	bin  string
	env  []string
}

func newHostAgent(t *testing.T, name, key string) *hostAgent {
	t.Helper()
	in := agEnsureInstalled(t, name)
	a, _ := agent.Lookup(name)
	dir := t.TempDir()
	h := &hostAgent{a: a, home: filepath.Join(dir, "home"), ws: filepath.Join(dir, "work"),
		bin: filepath.Join(in.dir, "node_modules", ".bin", a.Info().Bin)}
	os.MkdirAll(h.ws, 0o755)
	c := agent.SeedContext{Dirs: map[string]string{}, Workspaces: []string{h.ws},
		Placeholder: func(string) string { return key }}
	for _, d := range a.Info().ConfigDirs {
		c.Dirs[d] = h.path(d)
		os.MkdirAll(c.Dirs[d], 0o700)
	}
	if err := agent.Seed(a, c); err != nil {
		t.Fatal(err)
	}
	h.env = []string{"HOME=" + h.home, "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "TERM=xterm-256color"}
	for _, kv := range a.Info().Env {
		k, v, _ := strings.Cut(kv, "=")
		h.env = append(h.env, k+"="+h.path(v))
	}
	for _, k := range a.Info().Keys {
		if k.Env != "" && k.Secret != "github" {
			h.env = append(h.env, k.Env+"="+key)
		}
	}
	return h
}

// path maps a path of the sandbox's home to the host agent's home.
func (h *hostAgent) path(p string) string {
	if rest, ok := strings.CutPrefix(p, agent.Home); ok {
		return h.home + rest
	}
	return p
}

// argv is the agent's command line with its endpoint pointed at url and the user's args.
func (h *hostAgent) argv(url string, args ...string) (argv, env []string) {
	env = slices.Clone(h.env)
	var pre []string
	for _, k := range h.a.Info().Keys {
		if k.BaseURLEnv != "" {
			env = append(env, k.BaseURLEnv+"="+url)
		}
		for _, a := range k.BaseURLArgs {
			if strings.Contains(a, "%s") {
				a = fmt.Sprintf(a, url)
			}
			pre = append(pre, a)
		}
	}
	argv = h.a.Command(append(pre, args...), nil)
	argv[0] = h.bin
	return argv, env
}

// TestAgentsLiveHost: each real agent CLI, configured only by paddock's seeding, answers a
// prompt from its stand-in directly on the host; the stand-in received the key. This is the
// baseline the sandboxed runs are compared with.
func TestAgentsLiveHost(t *testing.T) {
	requireRoot(t)
	for _, lc := range liveCases {
		t.Run(lc.agent, func(t *testing.T) {
			key := fmt.Sprintf("sk-host-%s-%d", lc.agent, time.Now().UnixNano())
			reply := "PADDOCK-" + strings.ToUpper(lc.agent) + "-REPLY-7731"
			s := standIn(t, lc.api, reply)
			h := newHostAgent(t, lc.agent, key)
			argv, env := h.argv(s.URL, lc.prompt...)
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Dir, cmd.Env = h.ws, env
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			start := time.Now()
			if err := runTimeout(cmd, 90*time.Second); err != nil {
				t.Fatalf("%s: %v\nstdout: %s\nstderr: %s\nstand-in saw:\n%s", strings.Join(argv, " "), err, out.String(), errb.String(), s.Summary())
			}
			t.Logf("%s answered in %s", lc.agent, time.Since(start).Round(time.Millisecond))
			if strings.TrimSpace(out.String()) != reply && !strings.Contains(out.String(), "\n"+reply+"\n") {
				t.Fatalf("stdout %q lacks the reply %q\nstderr: %s", out.String(), reply, errb.String())
			}
			if keys := s.Keys(); !slices.Equal(keys, []string{key}) {
				t.Fatalf("the stand-in got keys %q, want only %q:\n%s", keys, key, s.Summary())
			}
		})
	}
}

// runTimeout runs cmd, killing it after d.
func runTimeout(cmd *exec.Cmd, d time.Duration) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("timed out after %s", d)
	}
}

// tmuxSession is a real terminal: a tmux server of its own running one command.
type tmuxSession struct {
	t    *testing.T
	sock string
}

// newTmux starts script (a shell script's text) in a detached tmux window of w×h cells.
func newTmux(t *testing.T, script string, w, h int) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed (scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	file := filepath.Join(dir, "session.sh")
	os.WriteFile(file, []byte("#!/bin/sh\n"+script), 0o755)
	s := &tmuxSession{t: t, sock: filepath.Join(dir, "tmux.sock")}
	s.tmux("-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), file)
	t.Cleanup(func() { exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.sock}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is what the window shows now.
func (s *tmuxSession) screen() string {
	out, err := exec.Command("tmux", "-S", s.sock, "capture-pane", "-p", "-t", "main").CombinedOutput()
	if err != nil {
		return "(no screen: " + err.Error() + ")"
	}
	return string(out)
}

// waitFor waits until the screen shows every one of want, failing the test otherwise.
func (s *tmuxSession) waitFor(d time.Duration, what string, want ...string) string {
	s.t.Helper()
	sc, ok := s.shows(d, want...)
	if !ok {
		s.t.Fatalf("%s: the screen never showed %q within %s:\n%s", what, want, d, sc)
	}
	return sc
}

// shows waits up to d until the screen shows every one of want; it returns the last screen.
func (s *tmuxSession) shows(d time.Duration, want ...string) (string, bool) {
	deadline := time.Now().Add(d)
	for {
		sc := s.screen()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(sc, w)
		}
		if ok {
			return sc, true
		}
		if time.Now().After(deadline) {
			return sc, false
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// typeLine types text, then Enter.
func (s *tmuxSession) typeLine(text string) {
	s.tmux("send-keys", "-t", "main", "-l", text)
	time.Sleep(300 * time.Millisecond)
	s.tmux("send-keys", "-t", "main", "Enter")
}

// shellScript is the body of a script running argv in dir with env, then saying how it ended.
func shellScript(dir string, env, argv []string) string {
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shq(v))
	}
	fmt.Fprintf(&b, "cd %s || exit 1\n", shq(dir))
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shq(a))
	}
	b.WriteString("\necho \"SESSION-ENDED:$?\"\nsleep 600\n")
	return b.String()
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// driveClaudeTUI types a prompt into Claude Code's own screen, sees the stand-in's reply, resizes
// the window, and leaves with Ctrl-C: the checks shared by the host and sandbox runs.
func driveClaudeTUI(t *testing.T, s *tmuxSession, reply string) {
	t.Helper()
	// Straight into the prompt in bypass mode: no onboarding, trust, key or bypass dialogs.
	sc := s.waitFor(60*time.Second, "Claude Code's prompt", "bypass permissions on")
	for _, dialog := range []string{"trust this folder", "Detected a custom API key", "Bypass Permissions mode", "Choose the text style", "Select login method"} {
		if strings.Contains(sc, dialog) {
			t.Fatalf("a first-run dialog appeared (%q):\n%s", dialog, sc)
		}
	}
	s.typeLine("say the word")
	s.waitFor(60*time.Second, "the reply", reply)
	// A smaller window: Claude Code redraws to the new width (its rules span the window).
	s.tmux("resize-window", "-t", "main", "-x", "72", "-y", "24")
	s.waitFor(15*time.Second, "redraw at 72 columns", strings.Repeat("─", 72)+"\n")
	if sc := s.screen(); strings.Contains(sc, strings.Repeat("─", 73)) {
		t.Fatalf("still drawn for the wide window:\n%s", sc)
	}
	// Ctrl-C twice leaves Claude Code (the first only arms it).
	s.tmux("send-keys", "-t", "main", "C-c")
	time.Sleep(400 * time.Millisecond)
	s.tmux("send-keys", "-t", "main", "C-c")
	s.waitFor(20*time.Second, "exit after Ctrl-C", "SESSION-ENDED:")
}

// TestAgentsLiveHostClaudeTUI: Claude Code's interactive screen in a real terminal on the host,
// with paddock's seeded configuration, against the stand-in.
func TestAgentsLiveHostClaudeTUI(t *testing.T) {
	requireRoot(t)
	key := fmt.Sprintf("sk-host-tui-%d", time.Now().UnixNano())
	reply := "PADDOCK-TUI-REPLY-5150"
	s := standIn(t, agenttest.Anthropic, reply)
	h := newHostAgent(t, "claude", key)
	argv, env := h.argv(s.URL)
	tm := newTmux(t, shellScript(h.ws, env, argv), 110, 34)
	driveClaudeTUI(t, tm, reply)
	if keys := s.Keys(); !slices.Equal(keys, []string{key}) {
		t.Fatalf("the stand-in got keys %q:\n%s", keys, s.Summary())
	}
}

// TestAgentsLiveHostThroughProxy: the same real CLIs on the host, but holding only the
// placeholder and configured as in a sandbox (the proxy variables, the loopback endpoint set with
// `secret set --endpoint` given as the proxy's own address): the proxy puts the real key in and
// the stand-in answers, Codex's WebSocket included.
func TestAgentsLiveHostThroughProxy(t *testing.T) {
	requireRoot(t)
	for _, lc := range liveCases {
		t.Run(lc.agent, func(t *testing.T) {
			key := fmt.Sprintf("sk-real-proxy-%s-%d", lc.agent, time.Now().UnixNano())
			reply := "PADDOCK-" + strings.ToUpper(lc.agent) + "-PROXY-REPLY"
			s := standIn(t, lc.api, reply)
			home := t.TempDir()
			os.MkdirAll(filepath.Join(home, "secrets"), 0o700)
			os.WriteFile(filepath.Join(home, "secrets", lc.secret), []byte(key), 0o600)
			os.WriteFile(filepath.Join(home, "secrets", lc.secret+".endpoint"), []byte(s.URL+"\n"), 0o600)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() {
				served <- egress.ServeSandbox(ctx, ln, egress.Options{Home: home, StateDir: t.TempDir(), SandboxID: "host", Sandbox: "host", Preset: egress.Balanced})
			}()
			defer func() { cancel(); ln.Close(); <-served }()
			port := ln.Addr().(*net.TCPAddr).Port

			h := newHostAgent(t, lc.agent, egress.Placeholder(lc.secret))
			// As paddock run gives it: the proxy's address for a loopback endpoint, and the
			// sandbox's proxy variables (NO_PROXY keeps loopback direct).
			argv, env := h.argv(egress.EndpointURL(port, lc.secret, s.URL), lc.prompt...)
			for _, kv := range egress.Env(port) {
				if k, _, _ := strings.Cut(kv, "="); strings.HasSuffix(strings.ToLower(k), "_proxy") {
					env = append(env, kv)
				}
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Dir, cmd.Env = h.ws, env
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			start := time.Now()
			if err := runTimeout(cmd, 90*time.Second); err != nil || !strings.Contains(out.String(), reply) {
				t.Fatalf("%s: %v\nstdout: %s\nstderr: %s\nstand-in saw:\n%s", lc.agent, err, out.String(), errb.String(), s.Summary())
			}
			t.Logf("%s answered through the proxy in %s", lc.agent, time.Since(start).Round(time.Millisecond))
			if keys := s.Keys(); !slices.Equal(keys, []string{key}) {
				t.Fatalf("the stand-in got keys %q, want only the real one:\n%s", keys, s.Summary())
			}
		})
	}
}

// TestAgentsLiveHostDefaultEndpoint: Claude Code with no endpoint talks to api.anthropic.com
// through the proxy, which intercepts TLS with paddock's CA (trusted through NODE_EXTRA_CA_CERTS,
// as in a sandbox); the proxy's test hosts map sends the name to an HTTPS stand-in whose test CA
// the proxy trusts upstream. The real key arrives there; Claude Code held only the placeholder.
func TestAgentsLiveHostDefaultEndpoint(t *testing.T) {
	requireRoot(t)
	ca, err := agenttest.NewTestCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := ca.Leaf("api.anthropic.com")
	reply := "PADDOCK-DEFAULT-HOST-REPLY"
	s, err := agenttest.Start(agenttest.Anthropic, reply, "", leaf)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := fmt.Sprintf("sk-real-default-%d", time.Now().UnixNano())
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, "secrets"), 0o700)
	os.WriteFile(filepath.Join(home, "secrets", "anthropic"), []byte(key), 0o600)
	hosts := filepath.Join(home, "hosts")
	os.WriteFile(hosts, []byte("api.anthropic.com:443 "+s.Addr()+"\n"), 0o644)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CAPEM)
	pca, err := egress.LoadOrCreateCA(home)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(home, "ca-bundle.pem")
	os.WriteFile(bundle, pca.PEM, 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- egress.ServeSandbox(ctx, ln, egress.Options{Home: home, StateDir: t.TempDir(), Sandbox: "host",
			Preset: egress.Balanced, HostsFile: hosts, UpstreamRoots: roots})
	}()
	defer func() { cancel(); ln.Close(); <-served }()
	h := newHostAgent(t, "claude", egress.Placeholder("anthropic"))
	argv := h.a.Command([]string{"-p", "say the word"}, nil)
	argv[0] = h.bin
	env := append(slices.Clone(h.env), "NODE_EXTRA_CA_CERTS="+bundle)
	for _, kv := range egress.Env(ln.Addr().(*net.TCPAddr).Port) {
		if k, _, _ := strings.Cut(kv, "="); strings.HasSuffix(strings.ToLower(k), "_proxy") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = h.ws, env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := runTimeout(cmd, 90*time.Second); err != nil || !strings.Contains(out.String(), reply) {
		t.Fatalf("claude: %v\nstdout: %s\nstderr: %s\nstand-in saw:\n%s", err, out.String(), errb.String(), s.Summary())
	}
	if keys := s.Keys(); !slices.Equal(keys, []string{key}) {
		t.Fatalf("the stand-in got keys %q:\n%s", keys, s.Summary())
	}
}
