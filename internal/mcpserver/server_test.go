package mcpserver

import (
	"context"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/paddockhq/paddock/internal/sandbox"
)

// connect serves the tools over an in-memory transport to the SDK's client, with PADDOCK_HOME
// an empty folder.
func connect(t *testing.T) *mcp.ClientSession {
	t.Helper()
	t.Setenv("PADDOCK_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	ct, st := mcp.NewInMemoryTransports()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go New(sandbox.Settings{}, "test").Run(ctx, st)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// TestTools: every tool has a description, a schema whose properties are all described, and
// is safe to call with bad input (a tool error of one line, no sandbox needed).
func TestTools(t *testing.T) {
	cs := connect(t)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tools) != 14 {
		t.Fatalf("%d tools", len(res.Tools))
	}
	for _, tl := range res.Tools {
		sch, _ := tl.InputSchema.(map[string]any)
		props, _ := sch["properties"].(map[string]any)
		for name, p := range props {
			if d, _ := p.(map[string]any)["description"].(string); d == "" {
				t.Errorf("%s: property %s has no description", tl.Name, name)
			}
		}
		if tl.Annotations == nil || len(tl.Description) < 40 {
			t.Errorf("%s: annotations %v, description %q", tl.Name, tl.Annotations, tl.Description)
		}
	}
}

func TestToolErrors(t *testing.T) {
	cs := connect(t)
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"sandbox_exec", map[string]any{"sandbox": "nosuch", "command": []string{"true"}}, `no such sandbox: "nosuch" (see ` + "`paddock ls -a`)"},
		{"sandbox_exec", map[string]any{"sandbox": " ", "command": []string{"true"}}, "name the sandbox (its name or ID, see sandbox_list)"},
		{"sandbox_exec", map[string]any{"sandbox": "x", "command": []string{""}}, `give the command as an array, e.g. ["ls", "-l"]`},
		{"sandbox_exec", map[string]any{"sandbox": "x", "command": []string{"true"}, "env": []string{"K"}}, `env "K": give KEY=VALUE (the server's own environment is never passed to a sandbox)`},
		{"sandbox_stop", map[string]any{"sandbox": "x", "grace_seconds": -1}, "grace_seconds -1: give 0 to 600"},
		{"sandbox_copy", map[string]any{"sandbox": "x", "direction": "sideways", "sandbox_path": "a", "host_path": "/b"}, `direction "sideways": give out or in`},
		{"sandbox_copy", map[string]any{"sandbox": "x", "direction": "out", "sandbox_path": "a", "host_path": "b"}, `host_path "b": give an absolute path`},
		{"sandbox_ports", map[string]any{"sandbox": "x", "action": "open"}, `action "open": give list, publish or unpublish`},
		{"sandbox_ports", map[string]any{"sandbox": "x", "action": "publish", "ports": []string{"99999"}}, `-p "99999": "99999" is not a port`},
		{"sandbox_diff", map[string]any{"sandbox": "nosuch"}, `no such sandbox: "nosuch"`},
		{"sandbox_merge", map[string]any{"sandbox": "nosuch"}, `no such sandbox: "nosuch"`},
		{"sandbox_logs", map[string]any{"sandbox": "x", "tail": -1}, "tail -1: give a number of lines"},
		{"sandbox_start_agent", map[string]any{"sandbox": "nosuch"}, `no such sandbox: "nosuch"`},
		{"policy_log", map[string]any{"sandbox": "nosuch"}, `no such sandbox: "nosuch" (see ` + "`paddock ls -a`)"},
		{"sandbox_run", map[string]any{"pids_limit": 3}, "pids_limit 3: give at least 8"},
		{"sandbox_run", map[string]any{"cpus": 100000}, "--cpus"},
	} {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tc.tool, Arguments: tc.args})
		if err != nil {
			t.Fatalf("%s: %v", tc.tool, err)
		}
		msg := res.Content[0].(*mcp.TextContent).Text
		if !res.IsError || !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s %v: IsError %v, %q, want %q", tc.tool, tc.args, res.IsError, msg, tc.want)
		}
	}
}

func TestListEmpty(t *testing.T) {
	cs := connect(t)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "sandbox_list"})
	if err != nil || res.IsError {
		t.Fatalf("%v %+v", err, res)
	}
	if got := res.StructuredContent.(map[string]any)["sandboxes"]; got == nil || len(got.([]any)) != 0 {
		t.Fatalf("sandboxes %v", got)
	}
}

func TestNotes(t *testing.T) {
	n := &notes{}
	n.Write([]byte("paddock: warning: one\npaddock: tw"))
	n.Write([]byte("o\r\n\n"))
	if got := n.list(); len(got) != 2 || got[0] != "warning: one" || got[1] != "two" {
		t.Fatalf("notes %q", got)
	}
	for i := 0; i < 2*maxNotes; i++ {
		n.Write([]byte("x\n"))
	}
	if len(n.list()) != maxNotes {
		t.Fatalf("%d notes kept", len(n.list()))
	}
	var none *notes
	if none.list() != nil {
		t.Fatal("nil notes")
	}
}

func TestExecText(t *testing.T) {
	for _, tc := range []struct {
		r    ExecResult
		want string
	}{
		{ExecResult{ExitCode: 0}, "exit code 0\n"},
		{ExecResult{ExitCode: 2, Stdout: sandbox.Output{Text: "out", Bytes: 3}, Stderr: sandbox.Output{Text: "err\n", Bytes: 4}},
			"exit code 2\n--- stdout\nout\n--- stderr\nerr\n"},
		{ExecResult{Stdout: sandbox.Output{Text: "a\n[... 5 bytes left out ...]\nb\n", Bytes: 9, Truncated: true}, Notes: []string{"the sandbox hit its memory limit"}},
			"exit code 0\n--- stdout (9 bytes, truncated)\na\n[... 5 bytes left out ...]\nb\npaddock: the sandbox hit its memory limit\n"},
		{ExecResult{TimedOut: true, DurationMS: 2001, Stdout: sandbox.Output{Text: "started\n", Bytes: 8}}, "killed after 2001 ms (timeout)\n--- stdout\nstarted\n"},
	} {
		if got := tc.r.text(); got != tc.want {
			t.Errorf("text of %+v:\n%q\nwant\n%q", tc.r, got, tc.want)
		}
	}
}
