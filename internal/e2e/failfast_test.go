package e2e

// Issue 17 item 2: a real agent whose API call paddock refuses, or cannot pass on, fails at once
// with paddock's reason on the user's screen, instead of retrying for minutes.

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// failFastLimit bounds a failing non-interactive run, the agent's own start-up included (Gemini
// CLI and OpenCode take 5–20 s to start on a loaded 2-core machine). Before, Claude Code took
// about three minutes and OpenCode more than one.
const failFastLimit = 60 * time.Second

// closedLoopbackPort is a loopback port where nothing listens, whose number holds none of the
// status codes OpenCode retries on when it sees them anywhere in an error (45003 says "500").
func closedLoopbackPort(t *testing.T) int {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !regexp.MustCompile(`429|50[0234]|524`).MatchString(strconv.Itoa(port)) {
			return port
		}
	}
}

// apiConnections counts the connections a sandbox made to host, from `policy log --json`.
func apiConnections(t *testing.T, e *env, sandbox, host string) int {
	t.Helper()
	n := 0
	sc := bufio.NewScanner(strings.NewReader(e.ok("", "policy", "log", sandbox, "--json")))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			Host string `json:"host"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Host == host {
			n++
		}
	}
	return n
}

// TestFailFast: each real agent's non-interactive run, with its API refused by the policy, with
// no key stored (the placeholder never leaves the proxy), or with an upstream where nothing
// listens (the policy allows it; the proxy's hosts map sends the API's name to a closed loopback
// port), ends within failFastLimit with paddock's reason on the user's screen, having asked the
// API at most three times (Codex tries a WebSocket before HTTPS; Gemini CLI routes first).
func TestFailFast(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		agSetup(t, e, "")
		port := closedLoopbackPort(t)
		hosts := filepath.Join(e.dir, "egress-hosts")
		apis := map[string]string{"anthropic": "api.anthropic.com", "openai": "api.openai.com", "google": "generativelanguage.googleapis.com"}
		var lines string
		for _, h := range apis {
			lines += h + ":443 127.0.0.1:" + strconv.Itoa(port) + "\n"
		}
		e.writeFile(hosts, lines)
		os.Chmod(hosts, 0o644)
		e.extra = append(e.extra, "PADDOCK_EGRESS_HOSTS="+hosts)
		unreachable := "cannot be reached: nothing accepts connections at 127.0.0.1:" + strconv.Itoa(port) + " (the policy allows it)"

		type tc struct {
			name, agent, secret string
			args                []string
			deny                bool
			want                []string
		}
		prompt := map[string][]string{"claude": {"-p", "say hi"}, "codex": {"exec", "say hi"}, "gemini": {"-p", "say hi"}, "opencode": {"run", "say hi"}}
		check := func(t *testing.T, c tc) {
			agEnsureInstalled(t, c.agent)
			ws := e.workspace(c.name)
			name := c.agent + "-" + c.name
			if r := e.run(ws, "run", "-d", c.agent); r.code != 0 {
				t.Fatalf("run -d: %s", r)
			}
			host := apis[c.secret]
			if c.deny {
				e.ok("", "policy", "deny", host, "--sandbox", name)
			}
			start := time.Now()
			r, err := procRun(e, ws, "", failFastLimit, append([]string{"run", c.agent}, prompt[c.agent]...)...)
			took := time.Since(start)
			t.Logf("%s failed in %s", name, took.Round(100*time.Millisecond))
			if err != nil {
				t.Fatalf("%v (it retries?): %s", err, r)
			}
			seen := r.stdout + r.stderr
			for _, w := range c.want {
				if r.code == 0 || !strings.Contains(seen, w) {
					t.Errorf("want a failure showing %q: %s", w, r)
				}
			}
			n := 0
			for deadline := time.Now().Add(5 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				n = apiConnections(t, e, name, host)
			}
			if n == 0 || n > 3 {
				t.Errorf("%d connections to %s (want 1 to 3: the agent asked, and took the answer as final)", n, host)
			}
		}
		noKey := func(s string) string {
			return "paddock: no " + s + " key is stored: `paddock secret set " + s + "` stores one"
		}
		// No key stored: Claude Code and Codex send their placeholder, which is answered by the
		// proxy, with the refusal too when the policy refuses the API. (Gemini CLI and OpenCode
		// get no key variable then, and say so themselves: see TestFirstHourNoKey for the hint.)
		for _, c := range []tc{
			{name: "nokey", agent: "claude", secret: "anthropic", want: []string{noKey("anthropic")}},
			{name: "nokey", agent: "codex", secret: "openai", want: []string{noKey("openai")}},
			{name: "nokeydenied", agent: "claude", secret: "anthropic", deny: true,
				want: []string{noKey("anthropic"), "api.anthropic.com:443 refused (denied by rule api.anthropic.com)"}},
			{name: "nokeydenied", agent: "codex", secret: "openai", deny: true,
				want: []string{noKey("openai"), "api.openai.com:443 refused (denied by rule api.openai.com)"}},
		} {
			t.Run(c.agent+"-"+c.name, func(t *testing.T) { check(t, c) })
		}
		for s := range apis {
			if r := e.runInput("", "sk-fake-"+s+"-0123456789", "secret", "set", s); r.code != 0 {
				t.Fatalf("secret set: %s", r)
			}
		}
		// Keys stored: refused by the policy, and an upstream where nothing listens.
		for _, c := range []tc{
			{name: "denied", agent: "claude", secret: "anthropic", deny: true, want: []string{"paddock: api.anthropic.com:443 refused (denied by rule api.anthropic.com)"}},
			{name: "denied", agent: "gemini", secret: "google", deny: true,
				want: []string{"paddock: generativelanguage.googleapis.com:443 refused (denied by rule generativelanguage.googleapis.com)"}},
			{name: "denied", agent: "opencode", secret: "anthropic", deny: true, want: []string{"paddock: api.anthropic.com:443 refused (denied by rule api.anthropic.com)"}},
			{name: "down", agent: "claude", secret: "anthropic", want: []string{"paddock: api.anthropic.com:443 " + unreachable}},
			{name: "down", agent: "codex", secret: "openai", want: []string{"paddock: api.openai.com:443 " + unreachable}},
			{name: "down", agent: "gemini", secret: "google", want: []string{"paddock: generativelanguage.googleapis.com:443 " + unreachable}},
			{name: "down", agent: "opencode", secret: "anthropic", want: []string{"paddock: api.anthropic.com:443 " + unreachable}},
		} {
			t.Run(c.agent+"-"+c.name, func(t *testing.T) { check(t, c) })
		}
		// OpenCode with a Google key only: its Google provider gets the key (the variable it
		// reads), and the refusal is shown.
		e.run("", "secret", "rm", "anthropic", "openai")
		check(t, tc{name: "googledenied", agent: "opencode", secret: "google", deny: true,
			want: []string{"paddock: generativelanguage.googleapis.com:443 refused (denied by rule generativelanguage.googleapis.com)"}})
	})
}

// TestFailFastClaudeTUI: in Claude Code's interactive screen with no key and no sign-in, a prompt
// gets paddock's reason at once and the screen stays usable: /login opens Claude Code's own
// sign-in, and Ctrl-C leaves. (Root only, as the other TUI tests.)
func TestFailFastClaudeTUI(t *testing.T) {
	e := newEnv(t, asRoot)
	procReap(t, e)
	agSetup(t, e, "")
	agEnsureInstalled(t, "claude")
	ws := e.workspace("tuinokey")
	env := append([]string{"HOME=" + e.home, "PADDOCK_HOME=" + e.phome, "TERM=xterm-256color"}, e.extra...)
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	tm := newTmux(t, shellScript(ws, env, []string{binary, "run", "claude"}), 160, 40)
	tm.waitFor(60*time.Second, "Claude Code's prompt", "bypass permissions on")
	start := time.Now()
	tm.typeLine("say hi")
	want := "API Error: 400 paddock: no anthropic key is stored"
	if _, ok := tm.shows(20*time.Second, want); !ok {
		tm.tmux("send-keys", "-t", "main", "Enter") // an Enter dropped while it finished starting
	}
	tm.waitFor(30*time.Second, "paddock's reason", want)
	t.Logf("the reason was on the screen %s after the prompt", time.Since(start).Round(100*time.Millisecond))
	tm.typeLine("/login")
	tm.waitFor(20*time.Second, "Claude Code's sign-in", "Select login method")
	tm.tmux("send-keys", "-t", "main", "Escape")
	time.Sleep(time.Second)
	tm.tmux("send-keys", "-t", "main", "C-c")
	time.Sleep(400 * time.Millisecond)
	tm.tmux("send-keys", "-t", "main", "C-c")
	tm.waitFor(20*time.Second, "exit after Ctrl-C", "SESSION-ENDED:")
}
