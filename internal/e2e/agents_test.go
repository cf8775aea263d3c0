package e2e

// End-to-end tests of the agents (issue 4): the real npm packages of Claude Code, Gemini CLI,
// Codex and OpenCode installed from the registry by the host's npm into the shared agent cache
// and run in real sandboxes; config volumes; secrets; argument passing; reset.
//
// Each real package is installed once per test binary run, into a cache folder that every
// test's PADDOCK_HOME/agents points to; an npm wrapper first on PATH logs every npm call, so
// tests can count downloads.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// agCases are the npm agents and the line each prints for --version.
var agCases = []struct {
	name    string
	version *regexp.Regexp // its own --version line; group 1 is the version
}{
	{"claude", regexp.MustCompile(`^(\d+\.\d+\.\d+) \(Claude Code\)$`)},
	{"gemini", regexp.MustCompile(`^(\d+\.\d+\.\d+)$`)},
	{"codex", regexp.MustCompile(`^codex-cli (\d+\.\d+\.\d+)$`)},
	{"opencode", regexp.MustCompile(`^(\d+\.\d+\.\d+)$`)},
}

var (
	agCacheOnce sync.Once
	agCacheDir  string // the shared agent cache
	agRealNPM   string
	agMu        sync.Mutex
	agInstalled = map[string]*agInstall{}
)

// agInstall is the one install of an agent in this test run.
type agInstall struct {
	once    sync.Once
	version string
	dir     string
	mtime   time.Time
	err     string
}

// agSharedCache creates the shared agent cache once.
func agSharedCache(t *testing.T) string {
	agCacheOnce.Do(func() {
		agCacheDir = filepath.Join(baseDir, "agent-cache")
		os.MkdirAll(agCacheDir, 0o755)
		agRealNPM, _ = exec.LookPath("npm")
	})
	if agRealNPM == "" {
		t.Fatal("npm is not installed: the agent tests install real packages with it (scripts/test.sh installs it)")
	}
	return agCacheDir
}

// agSetup points the env's agent cache at cache (the shared one when "") and puts an npm that
// logs its calls to the returned file first on PATH.
func agSetup(t *testing.T, e *env, cache string) (npmLog string) {
	t.Helper()
	if cache == "" {
		cache = agSharedCache(t)
	} else {
		agSharedCache(t)
	}
	e.mkdir(e.phome)
	os.Chmod(e.phome, 0o700)
	link := filepath.Join(e.phome, "agents")
	if err := os.Symlink(cache, link); err != nil {
		t.Fatal(err)
	}
	os.Lchown(link, e.uid, e.gid)
	wrap := e.mkdir(filepath.Join(e.dir, "npm-wrapper"))
	npmLog = filepath.Join(e.dir, "npm.log")
	e.writeFile(npmLog, "")
	os.Chmod(npmLog, 0o666)
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\nexec %s \"$@\"\n", npmLog, agRealNPM)
	e.writeFile(filepath.Join(wrap, "npm"), script)
	os.Chmod(filepath.Join(wrap, "npm"), 0o755)
	e.extra = append(e.extra, "PATH="+wrap+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	return npmLog
}

// agCalls counts the logged npm calls of a kind (install, view) since the log was last cleared.
func agCalls(log, kind string) int {
	b, _ := os.ReadFile(log)
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, kind+" ") {
			n++
		}
	}
	return n
}

// agEnsureInstalled installs an agent into the shared cache once per test run, as root, and
// checks that first install: one npm install, progress on stderr, a read-only version folder.
func agEnsureInstalled(t *testing.T, name string) *agInstall {
	t.Helper()
	agMu.Lock()
	in := agInstalled[name]
	if in == nil {
		in = &agInstall{}
		agInstalled[name] = in
	}
	agMu.Unlock()
	in.once.Do(func() {
		e := newEnv(t, asRoot)
		log := agSetup(t, e, "")
		ws := e.workspace("install-" + name)
		start := time.Now()
		r := e.run(ws, "run", name, "--", "--version")
		if r.code != 0 {
			in.err = fmt.Sprintf("first install of %s: %s", name, r)
			return
		}
		versions := agVersions(filepath.Join(agCacheDir, name))
		if len(versions) != 1 {
			in.err = fmt.Sprintf("cache of %s holds %q after the first install", name, versions)
			return
		}
		in.version = versions[0]
		in.dir = filepath.Join(agCacheDir, name, in.version)
		st, _ := os.Stat(in.dir)
		in.mtime = st.ModTime()
		t.Logf("installed %s %s in %s", name, in.version, time.Since(start).Round(100*time.Millisecond))
		switch {
		case agCalls(log, "config") != 1: // one install (in the install sandbox) reads the user's npm config once
			in.err = fmt.Sprintf("first install of %s installed %d times", name, agCalls(log, "config"))
		case !strings.Contains(r.stderr, "installing "+name+" "+in.version) || !strings.Contains(r.stderr, "installed "+name+" "+in.version):
			in.err = fmt.Sprintf("no install progress on stderr: %q", r.stderr)
		case st.Mode().Perm()&0o222 != 0:
			in.err = fmt.Sprintf("%s is writable: %v", in.dir, st.Mode())
		}
		// Should the registry publish a newer version during the run, a rootless test may
		// install it next to this one.
		os.Chmod(filepath.Join(agCacheDir, name), 0o1777)
	})
	if in.err != "" {
		t.Fatal(in.err)
	}
	return in
}

// agVersions lists the complete versions in an agent's cache folder.
func agVersions(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// agLeftovers lists temporary install folders in an agent's cache folder.
func agLeftovers(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestAgentsVersion runs each real agent's own --version in a sandbox, then in a second sandbox
// of the same agent, which must not download it again.
func TestAgentsVersion(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		log := agSetup(t, e, "")
		for _, ac := range agCases {
			t.Run(ac.name, func(t *testing.T) {
				in := agEnsureInstalled(t, ac.name)
				os.WriteFile(log, nil, 0o666)
				for i, ws := range []string{e.workspace(ac.name + "-one"), e.workspace(ac.name + "-two")} {
					start := time.Now()
					r := e.run(ws, "run", ac.name, "--", "--version")
					if r.code != 0 {
						t.Fatalf("sandbox %d: %s", i+1, r)
					}
					line := strings.TrimSpace(r.stdout)
					m := ac.version.FindStringSubmatch(line)
					if m == nil || m[1] != in.version {
						t.Fatalf("sandbox %d: --version printed %q; want %s's own line for %s", i+1, line, ac.name, in.version)
					}
					t.Logf("sandbox %d: %q in %s", i+1, line, time.Since(start).Round(10*time.Millisecond))
				}
				if n, v := agCalls(log, "config"), agCalls(log, "view"); n != 0 || v != 0 {
					t.Fatalf("sandboxes of an installed agent installed %d times and asked the registry %d times", n, v)
				}
				if st, err := os.Stat(in.dir); err != nil || !st.ModTime().Equal(in.mtime) {
					t.Fatalf("the cached version changed: %v %v", st, err)
				}
				// Both sandboxes mount the same read-only install.
				var views []map[string]any
				json.Unmarshal([]byte(e.ok("", "inspect", ac.name+"-"+ac.name+"-one", ac.name+"-"+ac.name+"-two")), &views)
				mounted := filepath.Join(e.phome, "agents", ac.name, in.version) // the shared cache, through the link
				for _, v := range views {
					if !strings.Contains(fmt.Sprint(v["mounts"]), "source:"+mounted+" target:/paddock/agent") {
						t.Fatalf("sandbox %v does not mount %s: %v", v["name"], mounted, v["mounts"])
					}
					if ai, _ := v["agent_install"].(map[string]any); ai == nil || ai["version"] != in.version || ai["volume"] != "paddock-"+ac.name+"-data" {
						t.Fatalf("inspect agent_install: %v", v["agent_install"])
					}
				}
			})
		}
		// The agents command lists what is installed.
		var agents []struct {
			Name      string   `json:"name"`
			Package   string   `json:"package"`
			Flags     []string `json:"default_flags"`
			Installed []struct {
				Version string `json:"version"`
			} `json:"installed"`
		}
		if err := json.Unmarshal([]byte(e.ok("", "agents", "--json")), &agents); err != nil || len(agents) != 5 {
			t.Fatalf("agents --json: %v %+v", err, agents)
		}
		for _, a := range agents {
			if a.Name == "claude" && (a.Package != "@anthropic-ai/claude-code" || len(a.Installed) == 0 || !slices.Equal(a.Flags, []string{"--dangerously-skip-permissions"})) {
				t.Fatalf("agents --json: claude %+v", a)
			}
		}
	})
}

// TestAgentsConfigVolume: the agent's config folder lives in its volume: there in the next run,
// in a second sandbox of the agent, never in a workspace, kept by rm, gone with volume rm.
func TestAgentsConfigVolume(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		agSetup(t, e, "")
		agEnsureInstalled(t, "claude")
		ws1, ws2, ws3 := e.workspace("vol-one"), e.workspace("vol-two"), e.workspace("vol-three")
		e.ok(ws1, "run", "claude", "--", "--version")
		e.ok(ws1, "exec", "claude-vol-one", "sh", "-c", "echo logged-in > /root/.claude/login.txt")
		volDir := filepath.Join(e.phome, "volumes", "paddock-claude-data")
		hostFile := filepath.Join(volDir, "claude", "login.txt")
		if b, err := os.ReadFile(hostFile); err != nil || string(b) != "logged-in\n" {
			t.Fatalf("the config folder is not in the volume: %q %v", b, err)
		}
		for _, p := range []string{filepath.Join(e.phome, "volumes"), volDir, filepath.Dir(hostFile)} {
			if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("%s: mode %v %v, want 0700", p, st.Mode(), err)
			}
		}
		// The next run (after a stop) and a second sandbox of the agent see it.
		e.ok("", "stop", "claude-vol-one")
		if out := e.ok(ws1, "exec", "claude-vol-one", "cat", "/root/.claude/login.txt"); out != "logged-in\n" {
			t.Fatalf("next run: %q", out)
		}
		e.ok(ws2, "run", "-d", "claude")
		if out := e.ok(ws2, "exec", "claude-vol-two", "cat", "/root/.claude/login.txt"); out != "logged-in\n" {
			t.Fatalf("second sandbox: %q", out)
		}
		for _, ws := range []string{ws1, ws2} {
			filepath.WalkDir(ws, func(p string, d fs.DirEntry, err error) error {
				if err == nil && p != ws {
					t.Errorf("the agent's config appeared in the workspace: %s", p)
				}
				return nil
			})
		}
		// rm keeps it; volume ls and inspect show it.
		e.ok("", "rm", "-f", "claude-vol-one", "claude-vol-two")
		if _, err := os.Stat(hostFile); err != nil {
			t.Fatalf("rm removed the volume: %v", err)
		}
		var vols []struct {
			Name   string   `json:"name"`
			Agent  string   `json:"agent"`
			Path   string   `json:"path"`
			UsedBy []string `json:"used_by"`
		}
		json.Unmarshal([]byte(e.ok("", "volume", "ls", "--json")), &vols)
		if len(vols) != 1 || vols[0].Name != "paddock-claude-data" || vols[0].Agent != "claude" || vols[0].Path != volDir {
			t.Fatalf("volume ls --json: %+v", vols)
		}
		if out := e.ok("", "volume", "inspect", "paddock-claude-data"); !strings.Contains(out, `"target": "/root/.claude"`) {
			t.Fatalf("volume inspect: %s", out)
		}
		// volume rm: refused while a sandbox that uses it runs, unless -f.
		e.ok(ws3, "run", "-d", "claude")
		r := e.run("", "volume", "rm", "paddock-claude-data")
		if r.code == 0 || !strings.Contains(r.stderr, "claude-vol-three") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Fatalf("volume rm of a volume in use: %s", r)
		}
		if _, err := os.Stat(hostFile); err != nil {
			t.Fatalf("refused volume rm removed it: %v", err)
		}
		e.ok("", "volume", "rm", "-f", "paddock-claude-data")
		if _, err := os.Stat(volDir); err == nil {
			t.Fatal("volume rm -f left the volume")
		}
		if st := e.ok("", "ls", "-a", "--json"); !strings.Contains(st, `"stopped"`) {
			t.Fatalf("volume rm -f did not stop the sandbox using it: %s", st)
		}
		if r := e.run("", "volume", "rm", "paddock-claude-data"); r.code == 0 || !strings.Contains(r.stderr, "no such volume") {
			t.Fatalf("volume rm of a missing volume: %s", r)
		}
		// The next start makes a new one, holding only the first-run settings paddock seeds.
		if r := e.run(ws3, "exec", "claude-vol-three", "ls", "-A", "/root/.claude"); r.code != 0 || r.stdout != ".claude.json\nsettings.json\n" {
			t.Fatalf("after volume rm: %s", r)
		}
	})
}

// agProc finds a process whose command line contains what, inside the sandbox, and returns its
// argv and environment read from /proc.
func agProc(t *testing.T, e *env, name, what string, within time.Duration) (argv, environ []string) {
	t.Helper()
	script := `for p in /proc/[0-9]*; do
	case "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" in *` + what + `*) ;; *) continue ;; esac
	[ "$p" = /proc/$$ ] && continue
	base64 -w0 < $p/cmdline; echo; base64 -w0 < $p/environ; echo; exit 0
done; exit 1`
	deadline := time.Now().Add(within)
	for {
		r := e.run("", "exec", name, "sh", "-c", script)
		if r.code == 0 {
			lines := strings.Split(r.stdout, "\n")
			if len(lines) >= 2 {
				return agSplitNUL(t, lines[0]), agSplitNUL(t, lines[1])
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s process in %s within %s: %s", what, name, within, r)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func agSplitNUL(t *testing.T, b64 string) []string {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		t.Fatalf("decoding %q: %v", b64, err)
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
}

// TestAgentsSecretAndArgs: a key set with `secret set` reaches Claude Code only as the
// placeholder its seeded apiKeyHelper prints, and no file of the workspace, the
// agent cache or the sandbox's state, nor inspect; the user's arguments follow the default flags
// intact.
func TestAgentsSecretAndArgs(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		agSetup(t, e, "")
		in := agEnsureInstalled(t, "claude")
		ws := e.workspace("secret")
		key := fmt.Sprintf("sk-ant-e2e-%d-%s", time.Now().UnixNano(), e.mode)

		// Bad input first: a value as argument is refused without echoing it; an unknown name
		// gets the list.
		r := e.run("", "secret", "set", "anthropic", key)
		if r.code != 2 || strings.Contains(r.stderr+r.stdout, key) || !strings.Contains(r.stderr, "never the value") {
			t.Fatalf("secret set with a value argument: %s", r)
		}
		r = e.runInput("", key, "secret", "set", "aws")
		if r.code != 2 || !strings.Contains(r.stderr, "anthropic, github, google, openai") {
			t.Fatalf("secret set of an unknown name: %s", r)
		}
		if out := e.ok("", "secret", "ls"); out != "" {
			t.Fatalf("refused secrets were stored: %q", out)
		}

		if r := e.runInput("", key+"\n", "secret", "set", "anthropic"); r.code != 0 {
			t.Fatalf("secret set: %s", r)
		}
		if out := e.ok("", "secret", "ls"); out != "anthropic\n" {
			t.Fatalf("secret ls: %q", out)
		}
		if out := e.ok("", "secret", "ls", "--json"); strings.Contains(out, key) || !strings.Contains(out, `"ANTHROPIC_API_KEY"`) {
			t.Fatalf("secret ls --json: %s", out)
		}
		sdir := filepath.Join(e.phome, "secrets")
		if st, _ := os.Stat(sdir); st == nil || st.Mode().Perm() != 0o700 {
			t.Fatalf("secrets folder mode: %v", st)
		}
		if st, _ := os.Stat(filepath.Join(sdir, "anthropic")); st == nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("secret file mode: %v", st)
		}

		// Claude Code with a prompt: it keeps trying to reach the API (the sandbox has no
		// network) long enough to read its process from inside.
		prompt := `fix the "tests" now`
		cmd := e.command(ws, "run", "claude", "-p", prompt, "it's  two")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Kill()
			cmd.Wait()
		}()
		deadline := time.Now().Add(60 * time.Second)
		for !slices.Contains(e.sandboxNames(), "claude-secret") || e.run("", "exec", "claude-secret", "true").code != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the sandbox did not come up: %s", stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		argv, environ := agProc(t, e, "claude-secret", "dangerously-skip-permissions", 30*time.Second)
		want := []string{"/paddock/agent/node_modules/.bin/claude", "--dangerously-skip-permissions", "-p", prompt, "it's  two"}
		if !slices.Equal(argv, want) {
			t.Fatalf("claude's argv = %q, want %q", argv, want)
		}
		// Claude Code gets its key from the apiKeyHelper paddock seeded, which prints the
		// placeholder that the egress proxy replaces; never from its environment.
		if strings.Contains(strings.Join(environ, "\n"), key) || slices.ContainsFunc(environ, func(kv string) bool {
			return strings.HasPrefix(kv, "ANTHROPIC_API_KEY=")
		}) {
			t.Fatalf("claude's environment holds a key: %q", environ)
		}
		if out := e.ok("", "exec", "claude-secret", "cat", "/root/.claude/settings.json"); !strings.Contains(out, `"apiKeyHelper": "echo paddock-placeholder-anthropic"`) {
			t.Fatalf("settings.json: %s", out)
		}
		for _, kv := range []string{"CLAUDE_CONFIG_DIR=/root/.claude", "IS_SANDBOX=1"} {
			if !slices.Contains(environ, kv) {
				t.Fatalf("claude's environment lacks %s: %q", kv, environ)
			}
		}
		// Other processes of the sandbox do not get it.
		if out := e.ok("", "exec", "claude-secret", "env"); strings.Contains(out, key) || !strings.Contains(out, "CLAUDE_CONFIG_DIR=/root/.claude") {
			t.Fatalf("exec env: %s", out)
		}
		if out := e.ok("", "inspect", "claude-secret"); strings.Contains(out, key) {
			t.Fatalf("inspect shows the key: %s", out)
		}
		// No file outside the secret store holds it: not the workspace, the agent cache, the
		// sandbox's record, spec, logs, home, /tmp, /var.
		for _, dir := range []string{ws, in.dir, filepath.Join(e.phome, "sandboxes")} {
			if out, _ := exec.Command("grep", "-rlF", "--", key, dir).Output(); len(out) > 0 {
				t.Fatalf("the key is written in %s", out)
			}
		}
		if out, _ := exec.Command("grep", "-rlF", "--", key, e.phome).Output(); strings.TrimSpace(string(out)) != filepath.Join(sdir, "anthropic") {
			t.Fatalf("the key is in %q; want only the secret store", out)
		}
		cmd.Process.Kill()
		cmd.Wait()
		e.ok("", "stop", "claude-secret")

		e.ok("", "secret", "rm", "anthropic")
		if out := e.ok("", "secret", "ls"); out != "" {
			t.Fatalf("secret ls after rm: %q", out)
		}
		if r := e.run("", "secret", "rm", "anthropic"); r.code == 0 || !strings.Contains(r.stderr, "not set") {
			t.Fatalf("rm of an unset secret: %s", r)
		}
	})
}

// sandboxNames lists the names of all sandboxes.
func (e *env) sandboxNames() []string {
	var entries []struct {
		Name string `json:"name"`
	}
	json.Unmarshal([]byte(e.ok("", "ls", "-a", "--json")), &entries)
	var n []string
	for _, en := range entries {
		n = append(n, en.Name)
	}
	return n
}

// TestAgentsArgs: arguments after the agent name reach it intact, after its default flags; a
// leading -- is dropped.
func TestAgentsArgs(t *testing.T) {
	e := newEnv(t, asRoot)
	ws := e.workspace("args")
	out := e.ok(ws, "run", "shell", "--", "-c", `printf '<%s>\n' "$@"`, "x", `fix the "tests" now`, "it's", "", " two  spaces ")
	if want := "<fix the \"tests\" now>\n<it's>\n<>\n< two  spaces >\n"; out != want {
		t.Fatalf("arguments arrived as %q, want %q", out, want)
	}
}

// TestAgentsPinnedVersionConcurrentInstall: --agent-version installs and runs that version; two
// sandboxes asking for it at once (one on a terminal, with progress) download it once.
func TestAgentsPinnedVersionConcurrentInstall(t *testing.T) {
	const agentName, pinned = "gemini", "0.60.0"
	e := newEnv(t, asRoot)
	cache := filepath.Join(e.dir, "private-cache")
	os.MkdirAll(cache, 0o755)
	log := agSetup(t, e, cache)
	ws1, ws2 := e.workspace("pin-one"), e.workspace("pin-two")
	p := procStartPTY(t, e, ws1, 24, 100, "run", "--agent-version", pinned, agentName, "--", "--version")
	plain := make(chan result, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		plain <- e.run(ws2, "run", "--agent-version", pinned, agentName, "--", "--version")
	}()
	p.expect(regexp.MustCompile(`installing gemini 0\.60\.0 \(@google/gemini-cli\): \d+`), 60*time.Second, "progress on the terminal")
	p.expect(regexp.MustCompile(`(?m)^0\.60\.0$`), 90*time.Second, "the pinned version")
	if code := p.wait(30*time.Second, "pinned run"); code != 0 {
		t.Fatalf("pinned run on a terminal exited %d: %s", code, p.output())
	}
	var r result
	select {
	case r = <-plain:
	case <-time.After(90 * time.Second):
		t.Fatal("the concurrent run did not finish")
	}
	if r.code != 0 || strings.TrimSpace(r.stdout) != pinned {
		t.Fatalf("concurrent pinned run: %s", r)
	}
	if n := agCalls(log, "config"); n != 1 {
		t.Fatalf("installed %d times for two concurrent sandboxes, want 1", n)
	}
	if v := agVersions(filepath.Join(cache, agentName)); !slices.Equal(v, []string{pinned}) {
		t.Fatalf("cache holds %q", v)
	}
	// The pin is kept: the next run of the sandbox, without the flag, stays on it.
	if out := strings.TrimSpace(e.ok(ws1, "run", agentName, "--", "--version")); out != pinned {
		t.Fatalf("pinned sandbox now runs %q", out)
	}
	// Another version while it runs: paddock says it must restart, and --recreate does that.
	r = e.run(ws1, "run", "--agent-version", "0.59.0", agentName, "--", "--version")
	if r.code == 0 || !strings.Contains(r.stderr, "--recreate") || !strings.Contains(r.stderr, "0.60.0 -> 0.59.0") {
		t.Fatalf("version change on a running sandbox: %s", r)
	}
}

// TestAgentsBadInput: one clear line, a non-zero exit, nothing left behind.
func TestAgentsBadInput(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		cache := filepath.Join(e.dir, "private-cache")
		e.mkdir(cache)
		agSetup(t, e, cache)
		ws := e.workspace("bad")
		cases := []struct {
			name string
			args []string
			want []string
		}{
			{"no such version", []string{"run", "--agent-version", "0.0.0-nope", "claude"}, []string{"no version", "0.0.0-nope", "@anthropic-ai/claude-code"}},
			{"create: no such version", []string{"create", "--agent-version", "0.0.0-nope", "codex"}, []string{"no version", "0.0.0-nope", "@openai/codex"}},
			{"no such tag", []string{"run", "--agent-version", "no-such-tag", "gemini"}, []string{"no version", "no-such-tag"}},
			{"bad version", []string{"run", "--agent-version", "../../etc", "claude"}, []string{"--agent-version", "../../etc"}},
			{"version of the shell", []string{"run", "--agent-version", "1.0.0", "shell", "-c", "true"}, []string{"--agent-version", "shell"}},
			{"agent config value", []string{"run", "--agent-config", "mine", "claude"}, []string{"--agent-config", "host"}},
			{"agent config of the shell", []string{"run", "--agent-config", "host", "shell"}, []string{"--agent-config", "shell"}},
			{"volume name", []string{"volume", "inspect", "nope"}, []string{"no such volume", "nope"}},
			{"reset without a terminal", []string{"reset"}, []string{"confirmation", "--force"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.run(ws, c.args...)
				var lines []string
				for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
					if !strings.HasPrefix(l, "paddock: installing ") { // progress, not the error
						lines = append(lines, l)
					}
				}
				if r.code == 0 || len(lines) != 1 {
					t.Fatalf("want one line and a non-zero exit: %s", r)
				}
				for _, w := range c.want {
					if !strings.Contains(r.stderr, w) {
						t.Fatalf("stderr lacks %q: %s", w, r)
					}
				}
				if d := e.sandboxDirs(); len(d) != 0 {
					t.Fatalf("left sandboxes behind: %v", d)
				}
				for _, a := range []string{"claude", "codex", "gemini"} {
					if v, l := agVersions(filepath.Join(cache, a)), agLeftovers(filepath.Join(cache, a)); len(v)+len(l) != 0 {
						t.Fatalf("left installs behind: %v %v", v, l)
					}
				}
				if _, err := os.Stat(filepath.Join(e.phome, "volumes", "paddock-claude-data")); err == nil {
					t.Fatal("left a volume behind")
				}
			})
		}
		// Without npm, installing says what to do.
		e.extra = append(e.extra, "PATH=/nonexistent")
		r := e.run(ws, "run", "opencode")
		if r.code == 0 || !strings.Contains(r.stderr, "npm") || !strings.Contains(r.stderr, "install Node.js") || len(e.sandboxDirs()) != 0 {
			t.Fatalf("without npm: %s", r)
		}
	})
}

// TestAgentsHostConfig: --agent-config host shows the host's Claude instructions and settings
// read-only, never its credentials.
func TestAgentsHostConfig(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		agSetup(t, e, "")
		agEnsureInstalled(t, "claude")
		cfg := e.mkdir(filepath.Join(e.home, ".claude"))
		e.writeFile(filepath.Join(cfg, "CLAUDE.md"), "Always write tests.\n")
		e.writeFile(filepath.Join(cfg, "settings.json"), `{"model":"opus"}`)
		e.writeFile(filepath.Join(cfg, ".credentials.json"), `{"token":"host-secret"}`)
		e.mkdir(filepath.Join(cfg, "commands"))
		e.writeFile(filepath.Join(cfg, "commands", "review.md"), "Review it.\n")
		os.Chmod(e.home, 0o755)
		ws := e.workspace("hostcfg")
		e.ok(ws, "run", "-d", "--agent-config", "host", "claude")
		out := e.ok(ws, "exec", "claude-hostcfg", "sh", "-c", "cat /root/.claude/CLAUDE.md /root/.claude/settings.json /root/.claude/commands/review.md; ls -A /root/.claude")
		for _, w := range []string{"Always write tests.", `{"model":"opus"}`, "Review it."} {
			if !strings.Contains(out, w) {
				t.Fatalf("host config not shown: %s", out)
			}
		}
		if strings.Contains(out, ".credentials.json") || strings.Contains(out, "host-secret") {
			t.Fatalf("host credentials shown: %s", out)
		}
		if r := e.run(ws, "exec", "claude-hostcfg", "sh", "-c", "echo x >> /root/.claude/CLAUDE.md"); r.code == 0 {
			t.Fatal("the host's CLAUDE.md is writable from the sandbox")
		}
		if b, _ := os.ReadFile(filepath.Join(cfg, "CLAUDE.md")); string(b) != "Always write tests.\n" {
			t.Fatalf("host file changed: %q", b)
		}
	})
}

// TestAgentsReset: reset asks for "yes" on a terminal, stops sandboxes, removes sandboxes,
// volumes, secrets and the agent cache, and leaves workspaces alone.
func TestAgentsReset(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		cache := filepath.Join(e.dir, "private-cache")
		e.mkdir(cache)
		agSetup(t, e, cache)
		ws := e.workspace("reset")
		e.writeFile(filepath.Join(ws, "keep.txt"), "mine\n")
		e.ok(ws, "run", "-d", "shell")
		e.runInput("", "gk-reset", "secret", "set", "google")
		e.mkdir(filepath.Join(e.phome, "volumes"))
		e.mkdir(filepath.Join(e.phome, "volumes", "paddock-claude-data"))
		os.WriteFile(filepath.Join(cache, "marker"), nil, 0o644)

		p := procStartPTY(t, e, ws, 24, 120, "reset")
		p.expect(regexp.MustCompile(`(?s)1 sandbox, 1 volume .*1 secret.*Type yes to continue: `), 10*time.Second, "the confirmation")
		p.send("no\n")
		if code := p.wait(10*time.Second, "reset answered no"); code == 0 {
			t.Fatal("reset went ahead without yes")
		}
		if len(e.sandboxDirs()) != 1 {
			t.Fatal("reset without yes removed sandboxes")
		}
		p = procStartPTY(t, e, ws, 24, 120, "reset")
		p.expect(regexp.MustCompile(`Type yes to continue: `), 10*time.Second, "the confirmation")
		p.send("yes\n")
		if code := p.wait(30*time.Second, "reset"); code != 0 {
			t.Fatalf("reset exited %d: %s", code, p.output())
		}
		if _, err := os.Stat(e.phome); err == nil {
			entries, _ := os.ReadDir(e.phome)
			t.Fatalf("PADDOCK_HOME still holds %v", entries)
		}
		if b, err := os.ReadFile(filepath.Join(ws, "keep.txt")); err != nil || string(b) != "mine\n" {
			t.Fatalf("reset touched the workspace: %q %v", b, err)
		}
		if len(procSupervisorsUnder(e.phome)) != 0 {
			t.Fatal("a sandbox still runs after reset")
		}
		// The agent cache behind a symlink is the link's business: only the link goes.
		if _, err := os.Stat(filepath.Join(cache, "marker")); err != nil {
			t.Fatalf("reset followed the agents symlink: %v", err)
		}
		if out := e.ok("", "ls", "-a", "-q"); out != "" {
			t.Fatalf("ls after reset: %q", out)
		}
		// --force for scripts; an empty state is fine.
		e.ok("", "reset", "--force")
	})
}

// TestAgentsSecretPrompt: on a terminal, secret set reads the value without echoing it.
func TestAgentsSecretPrompt(t *testing.T) {
	e := newEnv(t, asRoot)
	p := procStartPTY(t, e, "", 24, 100, "secret", "set", "openai")
	p.expect(regexp.MustCompile(`Value for openai \(input is hidden\): `), 10*time.Second, "the prompt")
	p.send("sk-typed-secret\r")
	if code := p.wait(10*time.Second, "secret set"); code != 0 {
		t.Fatalf("secret set exited %d: %s", code, p.output())
	}
	if strings.Contains(p.output(), "sk-typed") {
		t.Fatalf("the value was echoed: %q", p.output())
	}
	if b, _ := os.ReadFile(filepath.Join(e.phome, "secrets", "openai")); string(b) != "sk-typed-secret" {
		t.Fatalf("stored %q", b)
	}
}
