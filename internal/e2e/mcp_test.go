package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/paddockhq/paddock/internal/mcpserver"
	"github.com/paddockhq/paddock/internal/sandbox"
)

// mcpClient is the SDK's own client driving `paddock mcp` as a subprocess over stdio.
type mcpClient struct {
	t      *testing.T
	cs     *mcp.ClientSession
	stderr *bytes.Buffer
}

// mcpConnect starts `paddock ARGS...` (the mcp command) in folder dir as the env's user (paddock
// hands it to paddock-oci) and connects to it.
func (e *env) mcpConnect(t *testing.T, dir string, args ...string) *mcpClient {
	t.Helper()
	cmd := e.command(dir, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "paddock-e2e", Version: "1"}, nil).
		Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connecting to paddock mcp: %v\nstderr: %s", err, stderr.String())
	}
	t.Cleanup(func() { cs.Close() })
	return &mcpClient{t: t, cs: cs, stderr: &stderr}
}

// call calls a tool; out, when non-nil, receives its structured result.
func (c *mcpClient) call(name string, args map[string]any, out any) *mcp.CallToolResult {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := c.cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if took := time.Since(start); took > time.Second {
		c.t.Logf("%s %v took %v", name, args, took)
	}
	if err != nil {
		c.t.Fatalf("%s %v: protocol error %v\nstderr: %s", name, args, err, c.stderr.String())
	}
	if out != nil && res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s: structured result %s: %v", name, b, err)
		}
	}
	return res
}

// ok calls a tool that must succeed.
func (c *mcpClient) ok(name string, args map[string]any, out any) *mcp.CallToolResult {
	c.t.Helper()
	res := c.call(name, args, out)
	if res.IsError {
		c.t.Fatalf("%s %v: tool error %q", name, args, text(res, 0))
	}
	return res
}

// fails calls a tool that must fail with a one-line message, and returns it.
func (c *mcpClient) fails(name string, args map[string]any) string {
	c.t.Helper()
	res := c.call(name, args, nil)
	msg := text(res, 0)
	if !res.IsError || msg == "" || strings.Contains(msg, "\n") {
		c.t.Fatalf("%s %v: want a tool error of one line, got IsError=%v %q", name, args, res.IsError, msg)
	}
	return msg
}

// text is the i-th content of a result, as text.
func text(res *mcp.CallToolResult, i int) string {
	if i >= len(res.Content) {
		return ""
	}
	if tc, ok := res.Content[i].(*mcp.TextContent); ok {
		return tc.Text
	}
	return ""
}

// cliMessage is the line the command line prints for a failed command, without "paddock: ".
func cliMessage(t *testing.T, r result) string {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("the command line did not fail: %s", r)
	}
	return strings.TrimPrefix(strings.TrimSpace(r.stderr), "paddock: ")
}

// TestMCPServer drives a whole session through `paddock mcp` with the SDK's client: create, exec
// (output, exit code, stdin, bounded output, timeout), ls, inspect, policy check, audit log,
// stop, rm; and bad input, each a tool error with the command line's message.
func TestMCPServer(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		hosts := filepath.Join(e.dir, "hosts")
		e.writeFile(hosts, "allowed.test 127.0.0.1\n")
		e.extra = append(e.extra, "PADDOCK_EGRESS_HOSTS="+hosts)
		ws := e.workspace("proj")
		e.writeFile(filepath.Join(ws, "hello.txt"), "hi\n")
		c := e.mcpConnect(t, ws, "mcp")

		tools, err := c.cs.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tl := range tools.Tools {
			names = append(names, tl.Name)
			if len(tl.Description) < 40 || tl.InputSchema == nil {
				t.Errorf("tool %s: description %q, schema %v", tl.Name, tl.Description, tl.InputSchema)
			}
		}
		slices.Sort(names)
		if want := []string{"policy_check", "policy_log", "sandbox_copy", "sandbox_diff", "sandbox_exec", "sandbox_inspect", "sandbox_list", "sandbox_logs", "sandbox_merge", "sandbox_ports", "sandbox_rm", "sandbox_run", "sandbox_start_agent", "sandbox_stop"}; !slices.Equal(names, want) {
			t.Fatalf("tools %v, want %v", names, want)
		}

		// Its help, and a usage error, as the command line gives them.
		if r := e.run("", "mcp", "--help"); r.code != 0 || !strings.Contains(r.stdout, "claude mcp add paddock -- paddock mcp") {
			t.Fatalf("paddock mcp --help: %s", r)
		}
		if r := e.run("", "mcp", "serve"); r.code != 2 || r.stderr != "paddock: mcp takes no arguments, got \"serve\" (see `paddock mcp --help`)\n" {
			t.Fatalf("paddock mcp serve: %s", r)
		}

		// Create: the sandbox of the server's working folder, started.
		var run mcpserver.RunResult
		c.ok("sandbox_run", map[string]any{}, &run)
		name := run.Sandbox.Name
		if !run.Created || name != "shell-proj" || run.Sandbox.Status != "running" || run.Sandbox.Workspace != ws {
			t.Fatalf("sandbox_run: %+v", run)
		}
		c.ok("sandbox_run", map[string]any{"workspace": ws, "agent": "shell"}, &run)
		if run.Created || run.Sandbox.Name != name {
			t.Fatalf("sandbox_run again: %+v", run)
		}

		// With args, the sandbox's agent runs with them (the shell's: sh -c).
		c.ok("sandbox_run", map[string]any{"args": []string{"-c", "echo from the agent; exit 4"}}, &run)
		if run.Created || run.Run == nil || run.Run.ExitCode != 4 || run.Run.Stdout.Text != "from the agent\n" {
			t.Fatalf("sandbox_run with args: %+v %+v", run, run.Run)
		}

		// Exec: output of both streams, exit code, the workspace shared both ways, stdin.
		var x mcpserver.ExecResult
		res := c.ok("sandbox_exec", map[string]any{"sandbox": name,
			"command": []string{"sh", "-c", "cat hello.txt; echo oops >&2; echo made > from-sandbox; exit 3"}}, &x)
		if x.ExitCode != 3 || x.Stdout.Text != "hi\n" || x.Stderr.Text != "oops\n" || x.Stdout.Truncated {
			t.Fatalf("exec: %+v", x)
		}
		if !strings.HasPrefix(text(res, 0), "exit code 3\n--- stdout\nhi\n--- stderr\noops\n") {
			t.Fatalf("exec's text: %q", text(res, 0))
		}
		if b, _ := os.ReadFile(filepath.Join(ws, "from-sandbox")); string(b) != "made\n" {
			t.Fatalf("the workspace on the host: %q", b)
		}
		c.ok("sandbox_exec", map[string]any{"sandbox": name, "command": []string{"tr", "a-z", "A-Z"}, "stdin": "from stdin\n",
			"env": []string{"FOO=bar"}}, &x)
		if x.ExitCode != 0 || x.Stdout.Text != "FROM STDIN\n" {
			t.Fatalf("exec with stdin: %+v", x)
		}
		c.ok("sandbox_exec", map[string]any{"sandbox": name, "command": []string{"sh", "-c", "echo $FOO; pwd"}, "env": []string{"FOO=bar"},
			"workdir": "/tmp"}, &x)
		if x.Stdout.Text != "bar\n/tmp\n" {
			t.Fatalf("exec with env and workdir: %+v", x)
		}

		// Copy out of the sandbox and into it.
		var cp mcpserver.CopyResult
		hostCopy := filepath.Join(e.mkdir(filepath.Join(e.dir, "mcp-copy")), "copied")
		c.ok("sandbox_copy", map[string]any{"sandbox": name, "direction": "out", "sandbox_path": "from-sandbox", "host_path": hostCopy}, &cp)
		if b, _ := os.ReadFile(hostCopy); string(b) != "made\n" || cp.Files != 1 {
			t.Fatalf("sandbox_copy out: %+v, the file has %q", cp, b)
		}
		c.ok("sandbox_copy", map[string]any{"sandbox": name, "direction": "in", "sandbox_path": "/tmp/back", "host_path": hostCopy}, &cp)
		c.ok("sandbox_exec", map[string]any{"sandbox": name, "command": []string{"cat", "/tmp/back"}}, &x)
		if x.Stdout.Text != "made\n" {
			t.Fatalf("sandbox_copy in: %+v", x)
		}

		// The agent (a shell here) in the background, and what it printed, as text.
		var sa mcpserver.StartAgentResult
		c.ok("sandbox_start_agent", map[string]any{"sandbox": name, "args": []string{"-c", "printf '\\033[1mbold-start\\033[0m\\n'; echo second-line"}}, &sa)
		if !sa.Session.Running && sa.Session.Name == "" {
			t.Fatalf("sandbox_start_agent: %+v", sa)
		}
		var lg mcpserver.LogsResult
		for end := time.Now().Add(10 * time.Second); !strings.Contains(lg.Output, "second-line"); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("sandbox_logs never showed the output: %+v", lg)
			}
			c.ok("sandbox_logs", map[string]any{"sandbox": name}, &lg)
		}
		if !strings.Contains(lg.Output, "bold-start\n") || strings.Contains(lg.Output, "\x1b") {
			t.Errorf("sandbox_logs output is not plain text: %q", lg.Output)
		}

		// Ports: published while it runs, listed, unpublished.
		var pr mcpserver.PortsResult
		hp := freePort(t)
		c.ok("sandbox_ports", map[string]any{"sandbox": name, "action": "publish", "ports": []string{fmt.Sprintf("%d:8000", hp)}}, &pr)
		if len(pr.Ports) != 1 || pr.Ports[0].HostPort != hp || pr.Ports[0].Port != 8000 {
			t.Fatalf("sandbox_ports publish: %+v", pr)
		}
		if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", hp), 2*time.Second); err != nil {
			t.Errorf("the published port does not listen: %v", err)
		} else {
			conn.Close()
		}
		c.ok("sandbox_ports", map[string]any{"sandbox": name, "action": "unpublish", "ports": []string{fmt.Sprint(hp)}}, &pr)
		if len(pr.Ports) != 0 {
			t.Fatalf("sandbox_ports unpublish: %+v", pr)
		}

		// A huge output is bounded: its start and end are kept, and the result says so.
		c.ok("sandbox_exec", map[string]any{"sandbox": name, "max_output_bytes": 1000,
			"command": []string{"sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x; echo; echo END"}}, &x)
		if x.ExitCode != 0 || !x.Stdout.Truncated || x.Stdout.Bytes != 3000005 || !strings.HasSuffix(x.Stdout.Text, "xx\nEND\n") ||
			!strings.HasPrefix(x.Stdout.Text, "xxx") || len(x.Stdout.Text) > 1100 || !strings.Contains(x.Stdout.Text, "bytes left out") {
			t.Fatalf("huge output: exit %d, %d bytes, truncated %v, kept %d: %.200q", x.ExitCode, x.Stdout.Bytes, x.Stdout.Truncated, len(x.Stdout.Text), x.Stdout.Text)
		}
		c.ok("sandbox_exec", map[string]any{"sandbox": name, "command": []string{"sh", "-c", "head -c 3000000 /dev/zero"}}, &x)
		if !x.Stdout.Truncated || len(x.Stdout.Text) > mcpserver.DefaultOutput+100 {
			t.Fatalf("huge output, default bound: %d bytes kept", len(x.Stdout.Text))
		}

		// A hung command: killed at its timeout, with what it started; the call is an error.
		start := time.Now()
		res = c.call("sandbox_exec", map[string]any{"sandbox": name, "timeout_seconds": 2,
			"command": []string{"sh", "-c", "echo started; sleep 1001; echo never"}}, &x)
		if !res.IsError || !strings.HasPrefix(text(res, 0), "the command did not end within 2s and was killed") || strings.Contains(text(res, 0), "\n") {
			t.Fatalf("hung command: IsError=%v %q", res.IsError, text(res, 0))
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Fatalf("hung command: the call took %v", took)
		}
		if !x.TimedOut || x.Stdout.Text != "started\n" || !strings.Contains(text(res, 1), "started") {
			t.Fatalf("hung command's output so far: %+v %q", x, text(res, 1))
		}
		noneLeft(t, c, name, "sleep 1001")

		// A call the client gives up on (notifications/cancelled) ends its command too; calls
		// run side by side: a slow one holds up no other.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = c.cs.CallTool(ctx, &mcp.CallToolParams{Name: "sandbox_exec", Arguments: map[string]any{"sandbox": name,
			"command": []string{"sh", "-c", "sleep 1002; echo never"}}})
		cancel()
		if err == nil {
			t.Fatal("a cancelled call returned no error")
		}
		noneLeft(t, c, name, "sleep 1002")
		slow := make(chan *mcp.CallToolResult, 1)
		go func() {
			res, _ := c.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "sandbox_exec", Arguments: map[string]any{"sandbox": name,
				"command": []string{"sleep", "4"}}})
			slow <- res
		}()
		time.Sleep(500 * time.Millisecond)
		start = time.Now()
		c.ok("sandbox_exec", map[string]any{"sandbox": name, "command": []string{"true"}}, &x)
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("a quick exec waited %v for a slow one", took)
		}
		if res := <-slow; res == nil || res.IsError {
			t.Fatalf("the slow exec: %+v", res)
		}

		// ls and inspect.
		var ls mcpserver.ListResult
		c.ok("sandbox_list", nil, &ls)
		if len(ls.Sandboxes) != 1 || ls.Sandboxes[0].Name != name || ls.Sandboxes[0].Status != "running" {
			t.Fatalf("sandbox_list: %+v", ls)
		}
		var insp sandbox.Inspection
		c.ok("sandbox_inspect", map[string]any{"sandbox": name}, &insp)
		if insp.Name != name || insp.Workspace != ws || insp.State.Status != "running" || insp.Network == nil || insp.Network.Preset != "balanced" {
			t.Fatalf("sandbox_inspect: %+v", insp)
		}

		// The network: a refused connection is in the audit log; policy check judges as the proxy.
		c.ok("sandbox_exec", map[string]any{"sandbox": name, "command": []string{"curl", "-sS", "-m", "10", "https://denied.test/"}}, &x)
		if x.ExitCode == 0 {
			t.Fatalf("curl denied.test: %+v", x)
		}
		var log mcpserver.LogResult
		c.ok("policy_log", map[string]any{"sandbox": name, "decision": "deny"}, &log)
		if n := len(log.Records); n == 0 || log.Records[n-1].Host != "denied.test" || log.Records[n-1].Decision != "deny" || log.Records[n-1].Sandbox != name {
			t.Fatalf("policy_log: %+v", log)
		}
		c.ok("policy_log", map[string]any{"last": 1}, &log)
		if len(log.Records) != 1 {
			t.Fatalf("policy_log last 1: %+v", log)
		}
		var v sandbox.CheckResult
		res = c.ok("policy_check", map[string]any{"sandbox": name, "target": "https://denied.test/x"}, &v)
		if v.Decision != "deny" || v.AllowCommand != "paddock policy allow denied.test --sandbox "+name || res.IsError {
			t.Fatalf("policy_check denied: %+v", v)
		}
		e.ok("", "policy", "allow", "allowed.test:443", "--sandbox", name)
		c.ok("policy_check", map[string]any{"sandbox": name, "target": "allowed.test:443"}, &v)
		if v.Decision != "allow" || v.Rule != "allowed.test:443" || v.Source != "sandbox" || !slices.Contains(v.Addrs, "127.0.0.1:443") {
			t.Fatalf("policy_check allowed: %+v", v)
		}

		// Bad input and unknown sandboxes: tool errors with the command line's message.
		for _, tc := range []struct {
			tool string
			args map[string]any
			cli  []string // the same mistake on the command line ("": no counterpart)
			want string   // else a part of the message
		}{
			{"sandbox_exec", map[string]any{"sandbox": "nosuch", "command": []string{"true"}}, []string{"exec", "nosuch", "true"}, ""},
			{"sandbox_inspect", map[string]any{"sandbox": "nosuch"}, []string{"exec", "nosuch", "true"}, ""},
			{"sandbox_stop", map[string]any{"sandbox": "nosuch"}, []string{"stop", "nosuch"}, ""},
			{"policy_check", map[string]any{"sandbox": "nosuch", "target": "example.com"}, []string{"policy", "check", "nosuch", "example.com"}, ""},
			{"policy_check", map[string]any{"sandbox": name, "target": "ftp://example.com/"}, []string{"policy", "check", name, "ftp://example.com/"}, ""},
			{"sandbox_exec", map[string]any{"sandbox": name, "command": []string{"no-such-command"}}, []string{"exec", name, "no-such-command"}, ""},
			{"sandbox_rm", map[string]any{"sandbox": name}, []string{"rm", name}, ""},
			{"sandbox_run", map[string]any{"memory": "lots"}, []string{"create", "--memory", "lots", "shell"}, ""},
			{"sandbox_run", map[string]any{"agent": "nosuchagent"}, []string{"create", "nosuchagent"}, ""},
			{"sandbox_run", map[string]any{"workspace": filepath.Join(e.dir, "missing")}, []string{"create", "shell", filepath.Join(e.dir, "missing")}, ""},
			{"sandbox_exec", map[string]any{"sandbox": name, "command": []string{}}, nil, "command"},
			{"sandbox_exec", map[string]any{"command": []string{"true"}}, nil, "sandbox"},
			{"sandbox_exec", map[string]any{"sandbox": name, "command": []string{"true"}, "timeout_seconds": 0}, nil, "timeout_seconds"},
			{"sandbox_exec", map[string]any{"sandbox": name, "command": []string{"true"}, "max_output_bytes": 1 << 30}, nil, "max_output_bytes"},
			{"sandbox_exec", map[string]any{"sandbox": name, "command": []string{"true"}, "env": []string{"HOME"}}, nil, "give KEY=VALUE"},
			{"sandbox_exec", map[string]any{"sandbox": name, "command": "true"}, nil, "command"},
			{"sandbox_exec", map[string]any{"sandbox": name, "command": []string{"true"}, "bogus": 1}, nil, "bogus"},
			{"policy_log", map[string]any{"decision": "maybe"}, nil, "decision"},
			{"sandbox_run", map[string]any{"network": "wide"}, []string{"create", "--network", "wide", "shell"}, ""},
		} {
			msg := c.fails(tc.tool, tc.args)
			if tc.cli != nil {
				if want := cliMessage(t, e.run(ws, tc.cli...)); msg != want {
					t.Errorf("%s %v: message %q, the command line's %q", tc.tool, tc.args, msg, want)
				}
			} else if !strings.Contains(msg, tc.want) {
				t.Errorf("%s %v: message %q does not mention %q", tc.tool, tc.args, msg, tc.want)
			}
		}

		// Stop, exec starts it again, rm: the workspace stays.
		var done mcpserver.Done
		c.ok("sandbox_stop", map[string]any{"sandbox": name, "grace_seconds": 1}, &done)
		c.ok("sandbox_list", map[string]any{"running_only": true}, &ls)
		if done.Status != "stopped" || len(ls.Sandboxes) != 0 {
			t.Fatalf("after stop: %+v, running %+v", done, ls)
		}
		c.ok("sandbox_exec", map[string]any{"sandbox": name, "command": []string{"cat", "from-sandbox"}}, &x)
		if x.ExitCode != 0 || x.Stdout.Text != "made\n" {
			t.Fatalf("exec on a stopped sandbox: %+v", x)
		}
		c.ok("sandbox_rm", map[string]any{"sandbox": name, "force": true}, &done)
		c.ok("sandbox_list", nil, &ls)
		if done.Status != "removed" || len(ls.Sandboxes) != 0 || len(e.sandboxDirs()) != 0 {
			t.Fatalf("after rm: %+v, %+v, dirs %v", done, ls, e.sandboxDirs())
		}
		if b, _ := os.ReadFile(filepath.Join(ws, "hello.txt")); string(b) != "hi\n" {
			t.Fatalf("the workspace after rm: %q", b)
		}
	})
}

// noneLeft fails unless, within a few seconds, no process in the sandbox has cmdline in its
// command line.
func noneLeft(t *testing.T, c *mcpClient, name, cmdline string) {
	t.Helper()
	var x mcpserver.ExecResult
	start := time.Now()
	defer func() { t.Logf("%q gone after %v", cmdline, time.Since(start)) }()
	for end := time.Now().Add(10 * time.Second); ; {
		c.ok("sandbox_exec", map[string]any{"sandbox": name, "command": []string{"sh", "-c",
			`for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' < $f; echo; done 2>/dev/null`}}, &x)
		if !strings.Contains(x.Stdout.Text, cmdline) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%q still runs in the sandbox after its timeout:\n%s", cmdline, x.Stdout.Text)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestMCPDocker: the same server drives a sandbox on the Docker backend, and a command that
// outlives its timeout there is killed inside the container, with what it started; with the
// engine on this host and elsewhere (where paddock cannot see the container's processes).
func TestMCPDocker(t *testing.T) { engineWhere(t, testMCPDocker) }

func testMCPDocker(t *testing.T, elsewhere bool) {
	e, _ := dockerEnv(t)
	if elsewhere {
		engineElsewhere(t, e)
	}
	ws := e.workspace("proj")
	c := e.mcpConnect(t, ws, "--backend", "docker", "mcp") // the server's default backend
	var run mcpserver.RunResult
	c.ok("sandbox_run", map[string]any{}, &run)
	name := run.Sandbox.Name
	if !run.Created || run.Sandbox.Backend != "docker" || run.Sandbox.Status != "running" {
		t.Fatalf("sandbox_run: %+v", run)
	}
	var x mcpserver.ExecResult
	c.ok("sandbox_exec", map[string]any{"sandbox": name, "command": []string{"sh", "-c", "pwd; echo oops >&2; exit 5"}}, &x)
	if x.ExitCode != 5 || x.Stdout.Text != ws+"\n" || x.Stderr.Text != "oops\n" {
		t.Fatalf("exec: %+v", x)
	}
	res := c.call("sandbox_exec", map[string]any{"sandbox": name, "timeout_seconds": 2,
		"command": []string{"sh", "-c", "echo started; sleep 1001; echo never"}}, &x)
	if !res.IsError || !strings.HasPrefix(text(res, 0), "the command did not end within 2s and was killed") || x.Stdout.Text != "started\n" {
		t.Fatalf("hung command: IsError=%v %q %+v", res.IsError, text(res, 0), x)
	}
	noneLeft(t, c, name, "sleep 1001")
	var done mcpserver.Done
	c.ok("sandbox_rm", map[string]any{"sandbox": name, "force": true}, &done)
}
